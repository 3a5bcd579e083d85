"""Activations and embeddings from files: .npy, .npz, .safetensors and .csv, with per-sample texts or labels.

Nothing is ever unpickled: NumPy files are read with ``allow_pickle=False`` (an object array, e.g. texts
saved as Python strings, is refused with the fix) and .safetensors with the safetensors library.
A .npy or .safetensors file on disk is memory-mapped and only the rows used are read; whatever would be
held in memory is checked against ``core.budget``'s limit first (``check_data_fits``).

File options (``ARRAY_FILE_OPTIONS``):

* .npz: ``key`` (the data array; default the first numeric one), ``texts`` and ``labels`` (the arrays of
  per-sample texts and labels; default the arrays named 'texts'/'text' and 'labels'/'label' if present).
* .safetensors: ``tensor`` (the data tensor; may be left out when the file holds one besides its labels),
  ``labels`` (a 1-D integer tensor; default the tensor named 'labels'/'label' if present).
* .csv: ``texts`` and ``labels`` (column names; default a column named 'text'/'texts' or 'label'/'labels',
  and a column that holds no number at all is the texts).
* every one of them: ``as_vectors``, what a sample is (``core.datasets.files``): True, a vector (never a
  picture, whatever its length); False, a picture (of ``image_shape``, of a 3-D array's shape, or square);
  None (the default), a guess: a 3-D array's pictures, or square ones when the number of columns is a
  square (never for .safetensors activations or rows with texts).

Labels given as strings become integers 0..k-1 in sorted order, their names kept in ``Table.label_names``.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import DatasetError
from .option_names import where_set
from .preprocess import subset_indices

ARRAY_FILE_OPTIONS: dict[str, dict] = {
    ".npy": {"as_vectors": None},
    ".npz": {"key": None, "texts": None, "labels": None, "as_vectors": None},
    ".safetensors": {"tensor": None, "labels": None, "as_vectors": None},
    ".csv": {"texts": None, "labels": None, "as_vectors": None},
}
TEXT_NAMES = ("texts", "text")
LABEL_NAMES = ("labels", "label")
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"
#: the largest array a .npy/.npz held in memory (an upload, an .npz member) may declare, checked in its header
MAX_ARRAY_BYTES = 2 << 30
#: bytes read at a time from a memory-mapped .safetensors tensor (bounds the memory of a subset's read)
_CHUNK_BYTES = 64 << 20
PICKLE_FIX = ("Save a plain numeric array instead, e.g. np.save(path, np.asarray(X, dtype=np.float32)); texts as "
              "a string array, np.asarray(texts, dtype=str).")


@dataclass
class Table:
    """What an array file holds: the data (numeric, 2-D or 3-D; not yet checked) and its optional columns."""

    array: np.ndarray
    texts: np.ndarray | None = None
    labels: np.ndarray | None = None
    label_names: tuple[str, ...] | None = None


def check_data_fits(n_rows: int, n_features: int, filename: str) -> None:
    """Refuse, with core.budget's message, data that would not fit the memory a run may use."""
    from core import budget

    refusal = budget.data_refusal(n_rows, n_features, filename)
    if refusal:
        raise DatasetError(refusal)


def _no_shape_check(shape) -> None:
    """No check of the shape (an .npz member's size is checked once its data array is known)."""


# -- .npy ------------------------------------------------------------------------------------------------
def read_npy_bytes(data: bytes, filename: str, n_samples: int | None = None) -> Table:
    _check_npy_magic(data[:8], filename)
    check_npy_header(io.BytesIO(data), len(data), filename, check_shape=_rows_used_fit(filename, n_samples))
    try:
        return Table(np.load(io.BytesIO(data), allow_pickle=False))
    except (ValueError, EOFError, MemoryError) as error:
        raise numpy_error(filename, error) from error


def read_npy_path(path: Path, n_samples: int | None, seed: int) -> Table:
    """A .npy on disk, memory-mapped: only the ``n_samples`` rows used are read into memory."""
    with open(path, "rb") as stream:
        _check_npy_magic(stream.read(8), path.name)
        stream.seek(0)
        shape, _ = check_npy_header(stream, path.stat().st_size, path.name, limit=None,
                                    check_shape=_rows_used_fit(path.name, n_samples))
    rows = subset_indices(shape[0], n_samples, seed) if len(shape) >= 1 else None
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError, OSError) as error:
        raise numpy_error(path.name, error) from error
    return Table(np.array(mapped if rows is None else mapped[rows]))  # load's own subset then keeps them all


def _check_npy_magic(start: bytes, filename: str) -> None:
    if not start.startswith(_NPY_MAGIC):
        if start.startswith(b"\x80"):
            raise DatasetError(f"{filename} is a Python pickle, which is never unpickled for safety. {PICKLE_FIX}")
        raise DatasetError(f"{filename} is not a NumPy .npy file (it lacks the .npy header): corrupt, or another "
                           f"format renamed. {PICKLE_FIX}")


def check_npy_header(stream, total: int, filename: str, member: str = "", *, limit: int | None = MAX_ARRAY_BYTES,
                     check_shape=_no_shape_check):
    """(shape, dtype) from a .npy header in ``stream`` (``total`` bytes long), refusing before anything is
    allocated an object (pickled) array, one over ``limit`` bytes or that ``check_shape(shape)`` refuses
    (the memory limit), or one the remaining bytes cannot hold."""
    where = f"{filename}{f' (array {member})' if member else ''}"
    try:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    except Exception as error:  # noqa: BLE001 - NumPy's header parser raises ValueError, SyntaxError, TokenError ...
        raise DatasetError(f"{where} is corrupt or truncated (its .npy header cannot be read: {error}). "
                           "Save or download it again.") from None
    if dtype.hasobject:
        raise DatasetError(f"{where} holds an object (pickled) array, which is never unpickled for safety. {PICKLE_FIX}")
    declared = dtype.itemsize * int(np.prod(shape, dtype=object))
    if limit is not None and declared > limit:
        raise DatasetError(f"{where} declares an array of shape {tuple(shape)} ({declared / 2**30:,.1f} GiB), too large "
                           f"to load (the limit is {limit / 2**30:.0f} GiB). Use a subset of the rows.")
    check_shape(tuple(int(size) for size in shape))
    available = total - stream.tell()
    if declared > available:
        raise DatasetError(f"{where} is corrupt or truncated: its header declares shape {tuple(shape)} ({declared:,} bytes) "
                           f"but only {max(available, 0):,} bytes follow. Save or download it again.")
    return tuple(int(size) for size in shape), dtype


def _rows_used_fit(filename: str, n_samples: int | None):
    """A check of an array's shape: the ``n_samples`` rows used (all when None) must fit the memory limit."""
    def check(shape) -> None:
        if len(shape) >= 2:
            n_rows = min(n_samples or shape[0], shape[0])
            check_data_fits(n_rows, int(np.prod(shape[1:], dtype=object)), filename)
    return check


def numpy_error(filename: str, error: Exception) -> DatasetError:
    text = str(error)
    if "allow_pickle" in text or "pickled" in text:
        return DatasetError(f"{filename} holds an object (pickled) array, which is never unpickled for safety. {PICKLE_FIX}")
    return DatasetError(f"{filename} is corrupt or truncated ({text}). Save or download it again.")


# -- .npz ------------------------------------------------------------------------------------------------
def read_npz(data: bytes, filename: str, options: dict, n_samples: int | None = None) -> Table:
    """The arrays of an .npz (read whole: a zip member cannot be mapped; each at most ``MAX_ARRAY_BYTES``)."""
    if not data.startswith(_ZIP_MAGIC):
        raise DatasetError(f"{filename} is not a NumPy .npz archive (corrupt or truncated). Save it with np.savez.")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            names = list(archive.files)
            if not names:
                raise DatasetError(f"{filename} holds no arrays. Save one with np.savez(path, X=X).")
            headers = {name: _npz_member_header(archive.zip, name, filename) for name in names}
            texts_key = column_key(options.get("texts"), TEXT_NAMES, names, filename, "texts")
            labels_key = column_key(options.get("labels"), LABEL_NAMES, names, filename, "labels")
            key = options.get("key")
            if key is None:
                numeric = [n for n in names if n not in (texts_key, labels_key) and headers[n][1].kind in "biuf"]
                if not numeric:
                    raise DatasetError(f"{filename} holds no numeric array (its arrays: {', '.join(names)}). "
                                       "Save the data with np.savez(path, X=X.astype(np.float32)).")
                key = numeric[0]
            elif key not in names:
                raise DatasetError(
                    f"{filename} has no array named {key!r}. Its arrays are: {', '.join(names)}; name one of them: "
                    f"{where_set('key', 'NAME')}."
                )
            shape = headers[key][0]
            _rows_used_fit(filename, n_samples)(shape)
            table = Table(archive[key])
            if texts_key is not None:
                table.texts = as_texts(archive[texts_key], f"{filename}: array {texts_key!r}", len(table.array))
            if labels_key is not None:
                table.labels, table.label_names = as_labels(archive[labels_key], f"{filename}: array {labels_key!r}",
                                                            len(table.array))
            return table
    except (ValueError, EOFError, OSError, MemoryError, RuntimeError, NotImplementedError, zlib.error,
            zipfile.BadZipFile) as error:
        if isinstance(error, DatasetError):
            raise
        raise numpy_error(filename, error) from error


def _npz_member_header(archive: zipfile.ZipFile, key: str, filename: str):
    """(shape, dtype) of a member, refusing one over ``MAX_ARRAY_BYTES`` (a zip bomb), an object array, or one
    whose .npy header declares more data than the member holds, before NumPy allocates or inflates anything."""
    member = key if key in archive.namelist() else f"{key}.npy"
    info = archive.getinfo(member)
    if info.file_size > MAX_ARRAY_BYTES:
        raise DatasetError(f"{filename}: array {key!r} declares {info.file_size / 2**30:,.1f} GiB uncompressed, too large "
                           f"to load (the limit is {MAX_ARRAY_BYTES / 2**30:.0f} GiB; a possible zip bomb). "
                           "Save a smaller array.")
    with archive.open(info) as stream:
        return check_npy_header(stream, info.file_size, filename, key)


def column_key(given, defaults, names, filename: str, what: str):
    """The array (or column) holding ``what``: ``given`` if it exists, else the first of ``defaults`` there."""
    if given is None:
        return next((name for name in names if name.lower() in defaults), None)
    if given not in names:
        raise DatasetError(f"{filename} has no {'column' if filename.lower().endswith('.csv') else 'array'} named "
                           f"{given!r} for the {what}. It has: {', '.join(map(str, names))}; name one of them: "
                           f"{where_set(what, 'NAME')}.")
    return given


# -- .safetensors ----------------------------------------------------------------------------------------
def read_safetensors_bytes(data: bytes, filename: str, options: dict, n_samples: int | None, seed: int) -> Table:
    """An uploaded .safetensors: written to a temporary file so that it is read the one lazy way."""
    with tempfile.NamedTemporaryFile(suffix=".safetensors") as file:
        file.write(data)
        file.flush()
        return read_safetensors_path(Path(file.name), options, n_samples, seed, filename=filename)


def read_safetensors_path(path: Path, options: dict, n_samples: int | None, seed: int, *, filename: str = "") -> Table:
    """The tensor named by ``options['tensor']`` (or the only one) of a .safetensors file, read lazily:
    the header's shape is checked against the memory limit, then only the rows used are read."""
    import torch
    from safetensors import SafetensorError, safe_open

    filename = filename or path.name
    try:
        with safe_open(str(path), framework="pt") as file:
            names = list(file.keys())
            labels_key = column_key(options.get("labels"), LABEL_NAMES, names, filename, "labels")
            key = _tensor_name(options.get("tensor"), [n for n in names if n != labels_key], names, filename)
            data = file.get_slice(key)
            shape = tuple(int(size) for size in data.get_shape())
            if len(shape) < 2:
                raise DatasetError(f"{filename}: tensor {key!r} has shape {shape}; the data must be 2-D "
                                   "(n_samples, n_features). Name the activations' tensor: "
                                   f"{where_set('tensor', 'NAME')}.")
            _rows_used_fit(filename, n_samples)(shape)
            rows = subset_indices(shape[0], n_samples, seed)
            table = Table(_read_rows(data, shape, rows, torch))
            if labels_key is not None:
                values = file.get_tensor(labels_key).numpy()
                table.labels, table.label_names = as_labels(values, f"{filename}: tensor {labels_key!r}", shape[0])
                table.labels = table.labels if rows is None else table.labels[rows]
            return table
    except (SafetensorError, OSError, RuntimeError, TypeError) as error:
        raise DatasetError(f"{filename} is not a readable .safetensors file ({error}). Save it with "
                           "safetensors.torch.save_file({'activations': X}, path).") from None


def _tensor_name(given, candidates: list[str], names: list[str], filename: str) -> str:
    if given is not None:
        if given not in names:
            raise DatasetError(f"{filename} has no tensor named {given!r}. Its tensors are: {', '.join(names)}; "
                               f"name one of them: {where_set('tensor', 'NAME')}.")
        return given
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        besides = f" besides its labels ({', '.join(names)})" if names else ""
        raise DatasetError(f"{filename} holds no tensor of data{besides}. Save one with "
                           "safetensors.torch.save_file({'X': X}, path).")
    raise DatasetError(f"{filename} holds {len(candidates)} tensors: {', '.join(candidates)}. Choose the data with "
                       f"{where_set('tensor', 'NAME')}.")


def _read_rows(data, shape: tuple[int, ...], rows, torch) -> np.ndarray:
    """Rows of a lazily read tensor as float32, ``rows`` (sorted) or all, ``_CHUNK_BYTES`` at a time."""
    n_total, row_bytes = shape[0], 8 * int(np.prod(shape[1:], dtype=object))  # 8: the widest dtype read
    chunk = max(1, _CHUNK_BYTES // max(row_bytes, 1))
    if rows is None:
        rows = np.arange(n_total)
    parts = []
    for start in range(0, n_total, chunk):
        stop = min(start + chunk, n_total)
        chosen = rows[(rows >= start) & (rows < stop)]
        if chosen.size:
            block = data[start:stop].to(torch.float32).numpy()
            parts.append(block[chosen - start])
    return np.concatenate(parts)


# -- texts and labels ------------------------------------------------------------------------------------
def as_texts(values, where: str, n_rows: int) -> np.ndarray:
    """A str array (n_rows,) from a string array (``<U`` or bytes ``S``, decoded as UTF-8)."""
    values = np.asarray(values)
    if values.dtype.kind not in "US":
        raise DatasetError(f"{where} has dtype {values.dtype}, not text. Save the texts as np.asarray(texts, dtype=str).")
    _check_length(values, where, n_rows, "text")
    if values.dtype.kind == "S":
        return np.array([value.decode("utf-8", errors="replace") for value in values], dtype=str)
    return values.astype(str)


def as_labels(values, where: str, n_rows: int) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """(int labels, their names or None): strings become 0..k-1 in sorted order, whole numbers stay."""
    values = np.asarray(values)
    _check_length(values, where, n_rows, "label")
    if values.dtype.kind in "US":
        names, codes = np.unique(as_texts(values, where, n_rows), return_inverse=True)
        return codes.astype(np.int64), tuple(str(name) for name in names)
    if values.dtype.kind in "biu":
        return values.astype(np.int64), None
    if values.dtype.kind == "f" and np.isfinite(values).all() and (values == np.round(values)).all():
        return values.astype(np.int64), None
    raise DatasetError(f"{where} holds {values.dtype} values that are not whole numbers or names. Save the labels "
                       "as integers (one class each) or as strings.")


def _check_length(values: np.ndarray, where: str, n_rows: int, what: str) -> None:
    if values.ndim != 1 or len(values) != n_rows:
        raise DatasetError(f"{where} has shape {values.shape}, but the data has {n_rows} rows: save one {what} per "
                           f"row, a 1-D array of length {n_rows}.")
