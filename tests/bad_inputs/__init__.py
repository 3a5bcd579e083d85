"""A corpus of malformed inputs, generated in memory (no binary blobs in the repository).

``FILES`` are data files (name -> ``FileCase``): each goes through ``core.datasets.load_bytes``, through
``core.datasets.load`` from a path, through ``python -m core train --data PATH`` and, when its suffix is
one the Data page accepts, through the upload widget. ``expect`` holds words the error message must
contain; ``expect=None`` marks an odd input that must load (``check`` then inspects the Dataset).
``PARAMS`` are absurd hyperparameters for the CLI (arguments, exit status, words). ``CHECKPOINTS`` are
files that are not this app's safetensors checkpoints. ``MARKER`` is created by every pickle payload
here if it is ever unpickled: a test that finds it has caught an unpickling.
"""

from __future__ import annotations

import functools
import io
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

MARKER = Path(tempfile.gettempdir()) / "sae-explorer-bad-input-was-unpickled"
UPLOAD_SUFFIXES = (".npy", ".npz", ".csv", ".zip")


class Payload:
    """Unpickling this creates ``MARKER`` (``open(MARKER, 'w')``): proof that something was unpickled."""

    def __reduce__(self):
        return (open, (str(MARKER), "w"))


@dataclass(frozen=True)
class FileCase:
    filename: str
    make: Callable[[], bytes]
    expect: tuple[str, ...] | None  # words of the DatasetError, or None: the file must load
    options: dict[str, Any] = field(default_factory=dict)  # load / load_bytes options
    check: Callable[[Any], None] | None = None  # for files that load: what the Dataset must be
    kind: str = ""  # what it exercises, for the coverage test

    @property
    def data(self) -> bytes:
        return _cached(self.make)

    @property
    def uploadable(self) -> bool:
        return Path(self.filename).suffix in UPLOAD_SUFFIXES

    def cli_options(self) -> list[str]:
        """The options as ``--data-option key=value`` / ``--n-samples`` arguments."""
        import json

        argv: list[str] = []
        for key, value in self.options.items():
            if key == "n_samples":
                argv += ["--n-samples", str(value)]
            else:
                argv += ["--data-option", f"{key}={json.dumps(list(value) if isinstance(value, tuple) else value)}"]
        return argv


@functools.cache
def _cached(make: Callable[[], bytes]) -> bytes:
    return make()


# -- builders -----------------------------------------------------------------------------------------
def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npy_header_only(shape: tuple[int, ...], dtype: str = "<f8", payload: bytes = b"\0" * 80) -> bytes:
    """A .npy whose header declares ``shape`` but which holds only ``payload`` after it."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return b"\x93NUMPY\x01\x00" + buffer.getvalue()[8:] + payload


def image(height: int, width: int, value: int = 128, fmt: str = "PNG", mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), value if mode == "L" else (value,) * len(mode)).save(buffer, format=fmt)
    return buffer.getvalue()


def noise_image(height: int, width: int, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def zipped(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (with a tiny, wrong IDAT): a pixel bomb."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _set_declared_size(data: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size of a one-entry zip in its local header and central directory."""
    raw = bytearray(data)
    local = raw.find(b"PK\x03\x04")
    struct.pack_into("<I", raw, local + 22, size)
    central = raw.find(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, size)
    return bytes(raw)


def zip_bomb_declared() -> bytes:
    """An archive whose one image declares 3.9 GiB uncompressed (the loader's limit is 1 GiB)."""
    return _set_declared_size(zipped({"bomb/zeros.png": b"\0" * 4096}), 0xF000_0000)


def zip_bomb_lying() -> bytes:
    """An archive whose entry inflates to 64 MiB while its headers say 1 KiB: must stop at 1 KiB."""
    return _set_declared_size(zipped({"bomb/zeros.png": b"\0" * (64 << 20)}), 1024)


def zip_bomb_npz() -> bytes:
    """An .npz whose array member declares 3.9 GiB (a compressed zip of zeros as a NumPy archive)."""
    member = npy(np.zeros((64, 64)))
    return _set_declared_size(zipped({"X.npy": member}), 0xF000_0000)


def mixed_sizes() -> bytes:
    small = {f"set/a{i}.png": noise_image(8, 8, i) for i in range(3)}
    return zipped({**small, "set/huge.png": noise_image(1500, 2000, 9), "set/odd.jpg": image(5, 17, fmt="JPEG")})


def nested_folders() -> bytes:
    return zipped({
        "top/cats/a.png": image(6, 6, 10), "top/cats/deeper/still/b.png": image(6, 6, 20),
        "top/dogs/c.png": image(6, 6, 30), "top/dogs/d/e/f/g.bmp": image(6, 6, 40, fmt="BMP"),
        "top/readme.txt": b"skip me", "__MACOSX/top/._a.png": b"junk", "top/.hidden.png": b"junk",
    })


def encrypted_entry() -> bytes:
    """A zip whose image entry has the 'encrypted' flag set (zipfile cannot read it without a password)."""
    raw = bytearray(zipped({"a.png": image(4, 4), "b.png": image(4, 4)}, compression=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = raw.find(signature)
        flags = struct.unpack_from("<H", raw, start + offset)[0]
        struct.pack_into("<H", raw, start + offset, flags | 0x1)
    return bytes(raw)


def nameless_entry() -> bytes:
    """A zip whose last central-directory entry has an empty name (zipfile cannot write one)."""
    raw = bytearray(zipped({"a.png": image(4, 4), "X": b"x"}))
    central = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<H", raw, central + 28, 0)
    del raw[central + 46]
    end = raw.rfind(b"PK\x05\x06")
    struct.pack_into("<I", raw, end + 12, struct.unpack_from("<I", raw, end + 12)[0] - 1)
    return bytes(raw)


def structured() -> bytes:
    return npy(np.zeros(5, dtype=[("a", "<f4"), ("b", "<i4")]))


def rand(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, cols))


def with_value(value: float) -> np.ndarray:
    X = rand(30, 8)
    X[4, 2] = value
    return X


def _shape(expected: tuple[int, int], labels: bool = False):
    def check(ds) -> None:
        assert ds.image_shape == expected, ds.image_shape
        assert ds.X.dtype == np.float32 and np.isfinite(ds.X).all()
        assert 0.0 <= ds.X.min() and ds.X.max() <= 1.0
        assert (ds.labels is not None) == labels
    return check


def _one_feature(ds) -> None:
    assert ds.X.shape == (50, 1) and ds.image_shape is None


PICKLE = ("never unpickled",)
CORRUPT = ("corrupt or truncated",)

FILES: dict[str, FileCase] = {
    # empty, truncated and foreign files
    "empty npy": FileCase("empty.npy", lambda: b"", ("empty (0 bytes)",), kind="empty"),
    "empty csv": FileCase("empty.csv", lambda: b"", ("empty (0 bytes)",), kind="empty"),
    "empty zip": FileCase("empty.zip", lambda: b"", ("empty (0 bytes)",), kind="empty"),
    "blank csv": FileCase("blank.csv", lambda: b"\n \n\t\n", ("has no rows",), kind="empty"),
    "zip without entries": FileCase("nothing.zip", lambda: zipped({}), ("holds no images",), kind="empty"),
    "npy header cut": FileCase("cut-header.npy", lambda: npy(rand(20, 8))[:30], CORRUPT, kind="truncated"),
    "npy data cut": FileCase("cut-data.npy", lambda: npy(rand(20, 8))[:-100], ("truncated", "1,180 bytes follow"),
                             kind="truncated"),
    "npy header declares 80 MB": FileCase("liar.npy", lambda: npy_header_only((10**6, 10)),
                                         ("truncated", "80 bytes follow"), kind="truncated"),
    "npy header declares 74 TiB": FileCase("giant.npy", lambda: npy_header_only((10**12, 10)), ("too large",),
                                           kind="huge"),
    "npz cut": FileCase("cut.npz", lambda: npz(X=rand(20, 8))[:-60], CORRUPT, kind="truncated"),
    "zip cut": FileCase("cut.zip", lambda: nested_folders()[:-200], ("not a valid zip",), kind="truncated"),
    "text renamed npy": FileCase("text.npy", lambda: b"1,2,3\n4,5,6\n", ("not a NumPy .npy file",), kind="non-image"),
    "garbage npz": FileCase("garbage.npz", lambda: bytes(range(256)) * 4, ("not a NumPy .npz",), kind="non-image"),
    "binary csv": FileCase("binary.csv", lambda: bytes(range(256)) * 4, ("not UTF-8",), kind="non-image"),
    "latin-1 csv": FileCase("latin1.csv", lambda: "a,b\n1,2\n3,\xe9\n".encode("latin-1"), ("not UTF-8",),
                            kind="non-image"),
    "ragged csv": FileCase("ragged.csv", lambda: b"1,2,3\n4,5\n6,7,8\n", ("line 2 has 2 values",), kind="non-image"),
    "text cell csv": FileCase("words.csv", lambda: b"x,y\n1,2\n3,oops\n", ("'oops', not a number",),
                              kind="non-image"),
    "header-only csv": FileCase("header.csv", lambda: b"x,y,z\n", ("no data rows",), kind="empty"),
    "single image as data": FileCase("photo.png", lambda: image(8, 8), ("single image",), kind="non-image"),
    "unknown suffix": FileCase("notes.txt", lambda: b"hello", ("unsupported file type",), kind="non-image"),
    # zip archives: nesting, sizes, bombs, escapes
    "zip with only non-images": FileCase("docs.zip", lambda: zipped({"a/readme.txt": b"x", "b/c.pdf": b"%PDF"}),
                                         ("holds no images",), kind="zip"),
    "zip with one image": FileCase("one.zip", lambda: zipped({"a/b/only.png": image(4, 4)}), ("a single image",),
                                   kind="one sample"),
    "zip with a nameless entry": FileCase("nameless.zip", nameless_entry,
                                          ("a single image",), kind="zip"),
    "zip inside a zip": FileCase("russian-doll.zip", lambda: zipped({"inner.zip": zipped({"a.png": image(4, 4)})}),
                                 ("holds no images",), kind="zip"),
    "zip with a text file named .png": FileCase("fake.zip", lambda: zipped({"a.png": image(4, 4), "b.png": b"nope"}),
                                                ("b.png is not a readable image",), kind="non-image"),
    "zip with a truncated png": FileCase("cut-png.zip", lambda: zipped({"a.png": noise_image(32, 32),
                                                                        "b.png": noise_image(32, 32, 1)[:200]}),
                                         ("b.png",), kind="truncated"),
    "zip with an encrypted entry": FileCase("locked.zip", encrypted_entry, ("cannot extract",), kind="zip"),
    "zip with ../ entry": FileCase("escape.zip", lambda: zipped({"ok.png": image(4, 4), "../../evil.png": image(4, 4)}),
                                   ("unsafe path",), kind="escape"),
    "zip with absolute entry": FileCase("absolute.zip", lambda: zipped({"/etc/evil.png": image(4, 4)}),
                                        ("unsafe path",), kind="escape"),
    "zip with backslash ../ entry": FileCase("win.zip", lambda: zipped({"..\\..\\evil.png": image(4, 4)}),
                                             ("unsafe path",), kind="escape"),
    "zip bomb (declared size)": FileCase("bomb.zip", zip_bomb_declared, ("zip bomb",), kind="bomb"),
    "zip bomb (lying headers)": FileCase("liar.zip", zip_bomb_lying, ("cannot extract",), kind="bomb"),
    "npz bomb": FileCase("bomb.npz", zip_bomb_npz, ("too large",), kind="bomb"),
    "pixel bomb png": FileCase("pixels.zip", lambda: zipped({"a.png": png_header(20_000, 20_000)}),
                               ("too large to decode safely",), kind="huge"),
    "pixel bomb warning size": FileCase("pixels2.zip", lambda: zipped({"a.png": png_header(10_000, 10_000)}),
                                        ("too large to decode safely",), kind="huge"),
    "absurd image_shape for a zip": FileCase("tiny.zip", lambda: zipped({f"{i}.png": image(4, 4) for i in range(3)}),
                                             ("would need over",), {"image_shape": (10_000, 10_000)}, kind="huge"),
    "mixed sizes with a huge image": FileCase("mixed.zip", mixed_sizes, None, check=_shape((8, 8)), kind="huge"),
    "nested folders": FileCase("nested.zip", nested_folders, None, check=_shape((6, 6), labels=True), kind="zip"),
    # values and shapes
    "nan": FileCase("nan.npy", lambda: npy(with_value(np.nan)), ("1 NaN", "row 4, column 2"), kind="nan"),
    "inf": FileCase("inf.npy", lambda: npy(with_value(np.inf)), ("1 infinite", "row 4, column 2"), kind="nan"),
    "nan in csv": FileCase("nan.csv", lambda: b"1,2\n3,nan\n5,6\n", ("NaN",), kind="nan"),
    "-inf in csv": FileCase("inf.csv", lambda: b"1,2\n3,-inf\n5,6\n", ("infinite",), kind="nan"),
    "object npy": FileCase("object.npy", lambda: npy(np.array([Payload(), 1.0], dtype=object), allow_pickle=True),
                           PICKLE, kind="pickle"),
    "pickle named npy": FileCase("pickle.npy", lambda: __import__("pickle").dumps(Payload(), protocol=4),
                                 ("Python pickle",) + PICKLE, kind="pickle"),
    "object npz": FileCase("object.npz", lambda: (lambda b: (np.savez(b, X=np.array([Payload()], dtype=object)),
                                                             b.getvalue())[1])(io.BytesIO()), PICKLE, kind="pickle"),
    "complex npy": FileCase("complex.npy", lambda: npy(rand(5, 3) + 1j), ("complex",), kind="dtype"),
    "string npy": FileCase("strings.npy", lambda: npy(np.array([["a", "b"], ["c", "d"]])), ("not numbers",),
                           kind="dtype"),
    "structured npy": FileCase("records.npy", structured, ("not numbers",), kind="dtype"),
    "one sample": FileCase("one-row.npy", lambda: npy(rand(1, 10)), ("a single sample", "transpose"),
                           kind="one sample"),
    "one sample csv": FileCase("one-row.csv", lambda: b"1,2,3,4\n", ("a single sample",), kind="one sample"),
    "one feature": FileCase("one-column.npy", lambda: npy(rand(50, 1)), None, check=_one_feature, kind="one feature"),
    "zero features": FileCase("no-columns.npy", lambda: npy(np.zeros((10, 0))), ("zero features",), kind="one feature"),
    "1-D array": FileCase("vector.npy", lambda: npy(np.arange(10.0)), ("1-D", "reshape"), kind="dtype"),
    "4-D array": FileCase("tensor.npy", lambda: npy(np.zeros((2, 3, 4, 5))), ("expected 2-D",), kind="dtype"),
    "wrong image_shape": FileCase("rows.npy", lambda: npy(rand(40, 64)), ("holds 25 pixels", "64 features"),
                                  {"image_shape": (5, 5)}, kind="image_shape"),
    "wrong image_shape for a stack": FileCase("stack.npy", lambda: npy(rand(10, 4, 4)), ("holds 15 pixels",),
                                              {"image_shape": (3, 5)}, kind="image_shape"),
    "more samples than rows": FileCase("few.npy", lambda: npy(rand(10, 4)), ("more samples than the data set has",),
                                       {"n_samples": 1000}, kind="one sample"),
    "npz with a missing key": FileCase("keys.npz", lambda: npz(A=rand(5, 3)), ("no array named 'X'", "A"),
                                       {"key": "X"}, kind="non-image"),
    "negative data (loads; NMF refuses it)": FileCase("signed.npy", lambda: npy(rand(40, 16) - 0.5), None,
                                                      kind="negative"),
}

# Absurd hyperparameters for `python -m core train` on 200 digits: (extra arguments, exit status, words).
PARAMS: dict[str, tuple[list[str], int, tuple[str, ...]]] = {
    "k > n_components": (["--model", "sae-topk", "--n-components", "8", "--k", "16"], 2,
                         ("k=16 is larger than n_components=8",)),
    "batch top-k k > n_components": (["--model", "sae-batchtopk", "--n-components", "4", "--k", "9"], 2,
                                     ("larger than n_components",)),
    "learning rate 1e6": (["--model", "linear-ae", "--max-steps", "300", "--set", "learning_rate=1e6"], 3,
                          ("diverged", "Lower the learning rate")),
    "learning rate NaN": (["--model", "sae-l1", "--set", "learning_rate=NaN"], 2, ("learning_rate",)),
    "negative learning rate": (["--model", "sae-topk", "--set", "learning_rate=-1"], 2, ("learning_rate",)),
    "zero steps": (["--model", "sae-topk", "--max-steps", "0"], 2, ("max_steps",)),
    "zero steps for nmf": (["--model", "nmf", "--max-steps", "0"], 2, ("max_steps",)),
    "zero atoms": (["--model", "linear-ae", "--n-components", "0"], 2, ("n_components must be at least 1",)),
    "a billion atoms": (["--model", "sae-topk", "--n-components", "1000000000"], 2, ("n_components", "too large")),
    "pca with more components than features": (["--model", "pca", "--n-components", "1000"], 2,
                                                ("n_components=1000 is more than",)),
    "zero batch size": (["--model", "sae-topk", "--set", "batch_size=0"], 2, ("batch_size",)),
}


def _torch_pickle() -> bytes:
    """What ``torch.save`` writes: a ZIP holding data.pkl (a pickle)."""
    import pickle

    return zipped({"archive/data.pkl": pickle.dumps(Payload(), protocol=2), "archive/version": b"3\n"})


def _truncated_checkpoint() -> bytes:
    import core.checkpoint
    from core import models

    model = models.create("pca", n_components=2).fit(rand(10, 4).astype(np.float32))
    return core.checkpoint.to_bytes(model)[:-50]


def _lone_safetensors_with_pickle_header() -> bytes:
    import pickle

    return b"\x80\x04" + pickle.dumps(Payload(), protocol=4)[2:]


# Files offered as a checkpoint that are not this app's safetensors checkpoint: (bytes, words).
CHECKPOINTS: dict[str, tuple[Callable[[], bytes], tuple[str, ...]]] = {
    "torch.save pickle (zip)": (_torch_pickle, ("PyTorch pickle", "never loaded")),
    "raw pickle (.pkl)": (_lone_safetensors_with_pickle_header, ("Python pickle", "never loaded")),
    "npy renamed": (lambda: npy(rand(3, 3)), ("NumPy .npy",)),
    "empty": (lambda: b"", ("empty file",)),
    "truncated checkpoint zip": (_truncated_checkpoint, ("truncated",)),
    "zip with other files": (lambda: zipped({"config.json": b"{}", "weights.bin": b"x", "../x": b"y"}),
                             ("exactly config.json and weights.safetensors",)),
}
