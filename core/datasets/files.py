"""Reading a data matrix from a user's file or upload: .npy, .npz, .csv, a folder or .zip of images.

Nothing is ever unpickled: NumPy files are read with ``allow_pickle=False``. Every problem becomes a
DatasetError that names the file, what is wrong and how to fix it.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .base import Dataset, DatasetError, check_option_names
from .images import IMAGE_SUFFIXES, read_image_folder, read_image_zip
from .preprocess import as_data_matrix

# The extra options each kind of file accepts (besides load's own n_samples, scale, ...), with defaults.
FILE_OPTIONS: dict[str, dict] = {".npy": {}, ".npz": {"key": None}, ".csv": {}, ".zip": {}, "folder": {}}
SUPPORTED_FORMATS = ".npy, .npz, .csv, .zip of images, or a folder of images"

_NPY_MAGIC = b"\x93NUMPY"
#: the largest array a .npy/.npz may declare (its header is checked before anything is allocated)
MAX_ARRAY_BYTES = 2 << 30
_ZIP_MAGIC = b"PK"
_PICKLE_FIX = "Save a plain numeric array instead, e.g. np.save(path, np.asarray(X, dtype=np.float32))."


def file_kind(path_or_name: str | Path) -> str:
    """'folder' or the lower-case suffix ('.npy', ...); raises DatasetError for an unsupported suffix."""
    path = Path(path_or_name)
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in FILE_OPTIONS:
        return suffix
    if suffix in IMAGE_SUFFIXES:
        raise DatasetError(
            f"{path.name} is a single image, which would be a single sample. Put the images in a folder or a "
            ".zip file and load that."
        )
    raise DatasetError(f"Cannot read {path.name}: unsupported file type {suffix or '(none)'!r}. Use {SUPPORTED_FORMATS}.")


def read_file(path: Path, options: dict, *, image_shape=None, n_samples=None, seed: int = 0) -> Dataset:
    """Read the file or folder at ``path``. Image sets are subsampled before decoding (n_samples, seed)."""
    if not path.exists():
        raise DatasetError(
            f"File not found: {path.resolve()}. Check the path (and the working directory), or pick a built-in set."
        )
    kind = file_kind(path)
    if kind == "folder":
        check_option_names(options, FILE_OPTIONS[kind], f"a folder of images ({path.name})")
        return read_image_folder(path, image_shape=image_shape, n_samples=n_samples, seed=seed)
    return read_bytes(path.read_bytes(), path.name, options, image_shape=image_shape, n_samples=n_samples, seed=seed)


def read_bytes(data: bytes, filename: str, options: dict, *, image_shape=None, n_samples=None, seed: int = 0) -> Dataset:
    """Read an uploaded file's ``data``; its format comes from ``filename``'s suffix."""
    kind = file_kind(Path(filename).name)
    check_option_names(options, FILE_OPTIONS[kind], f"{kind} files")
    if len(data) == 0:
        raise DatasetError(f"{filename} is empty (0 bytes). Re-export or re-upload the file.")
    if kind == ".zip":
        return read_image_zip(data, filename, image_shape=image_shape, n_samples=n_samples, seed=seed)
    if kind == ".npy":
        array = _read_npy(data, filename)
    elif kind == ".npz":
        array = _read_npz(data, filename, options.get("key"))
    else:
        array = _read_csv(data, filename)
    X, stacked_shape = as_data_matrix(array, filename)
    return Dataset(
        X=X,
        name=filename,
        description=f"{filename}: {X.shape[0]} samples x {X.shape[1]} features.",
        image_shape=stacked_shape,
    )


def _read_npy(data: bytes, filename: str) -> np.ndarray:
    if not data.startswith(_NPY_MAGIC):
        if data.startswith(b"\x80"):
            raise DatasetError(f"{filename} is a Python pickle, which is never unpickled for safety. {_PICKLE_FIX}")
        raise DatasetError(
            f"{filename} is not a NumPy .npy file (it lacks the .npy header): corrupt, or another format renamed. "
            f"{_PICKLE_FIX}"
        )
    stream = io.BytesIO(data)
    _check_npy_header(stream, len(data), filename)
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, MemoryError) as error:
        raise _numpy_error(filename, error) from error


def _check_npy_header(stream, total: int, filename: str, member: str = "") -> None:
    """Read a .npy header from ``stream`` (``total`` bytes long) and refuse, before anything is allocated,
    an object (pickled) array, an array over ``MAX_ARRAY_BYTES``, or one the remaining bytes cannot hold."""
    where = f"{filename}{f' (array {member})' if member else ''}"
    try:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    except Exception as error:  # noqa: BLE001 - NumPy's header parser raises ValueError, SyntaxError, TokenError ...
        raise DatasetError(f"{where} is corrupt or truncated (its .npy header cannot be read: {error}). "
                           "Save or download it again.") from None
    if dtype.hasobject:
        raise DatasetError(f"{where} holds an object (pickled) array, which is never unpickled for safety. {_PICKLE_FIX}")
    declared = dtype.itemsize
    for size in shape:
        declared *= int(size)
    if declared > MAX_ARRAY_BYTES:
        raise DatasetError(f"{where} declares an array of shape {tuple(shape)} ({declared / 2**30:,.1f} GiB), too large "
                           f"to load (the limit is {MAX_ARRAY_BYTES / 2**30:.0f} GiB). Use a subset of the rows.")
    available = total - stream.tell()
    if declared > available:
        raise DatasetError(f"{where} is corrupt or truncated: its header declares shape {tuple(shape)} ({declared:,} bytes) "
                           f"but only {max(available, 0):,} bytes follow. Save or download it again.")


def _read_npz(data: bytes, filename: str, key: str | None) -> np.ndarray:
    if not data.startswith(_ZIP_MAGIC):
        raise DatasetError(f"{filename} is not a NumPy .npz archive (corrupt or truncated). Save it with np.savez.")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            names = list(archive.files)
            if not names:
                raise DatasetError(f"{filename} holds no arrays. Save one with np.savez(path, X=X).")
            if key is None:
                key = names[0]
            elif key not in names:
                raise DatasetError(
                    f"{filename} has no array named {key!r}. Its arrays are: {', '.join(names)}; pass key= one of them."
                )
            _check_npz_member(archive.zip, key, filename)
            return archive[key]
    except (ValueError, EOFError, OSError, MemoryError, RuntimeError, NotImplementedError, zlib.error,
            zipfile.BadZipFile) as error:
        if isinstance(error, DatasetError):
            raise
        raise _numpy_error(filename, error) from error


def _check_npz_member(archive: zipfile.ZipFile, key: str, filename: str) -> None:
    """Refuse a member that declares more than ``MAX_ARRAY_BYTES`` (a zip bomb) or whose .npy header
    declares more data than the member holds, before NumPy allocates or inflates anything."""
    member = key if key in archive.namelist() else f"{key}.npy"
    info = archive.getinfo(member)
    if info.file_size > MAX_ARRAY_BYTES:
        raise DatasetError(f"{filename}: array {key!r} declares {info.file_size / 2**30:,.1f} GiB uncompressed, too large "
                           f"to load (the limit is {MAX_ARRAY_BYTES / 2**30:.0f} GiB; a possible zip bomb). "
                           "Save a smaller array.")
    if member.endswith(".npy"):
        with archive.open(info) as stream:
            _check_npy_header(stream, info.file_size, filename, key)


def _numpy_error(filename: str, error: Exception) -> DatasetError:
    text = str(error)
    if "allow_pickle" in text or "pickled" in text:
        return DatasetError(
            f"{filename} holds an object (pickled) array, which is never unpickled for safety. {_PICKLE_FIX}"
        )
    return DatasetError(f"{filename} is corrupt or truncated ({text}). Save or download it again.")


def _read_csv(data: bytes, filename: str) -> np.ndarray:
    """Numeric CSV (comma, semicolon, tab or whitespace separated); a header row is allowed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"{filename} is not UTF-8 text (byte {error.start} cannot be decoded). Save it as a UTF-8 CSV."
        ) from error
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise DatasetError(f"{filename} has no rows. Add one row per sample with numbers separated by commas.")
    delimiter = next((d for d in (",", ";", "\t") if d in lines[0][1]), None)  # None: whitespace
    first_row = _split(lines[0][1], delimiter)
    header = None if all(_is_number(cell) for cell in first_row) else first_row
    numbers = lines[1:] if header else lines
    if not numbers:
        raise DatasetError(f"{filename} has a header row but no data rows. Add one row per sample below it.")
    try:  # fast C parser first; the slow pass below only runs on unusual or broken files
        return np.loadtxt(io.StringIO("\n".join(line for _, line in numbers)), delimiter=delimiter, ndmin=2, comments=None)
    except ValueError:
        pass
    body = [_split(line, delimiter) for _, line in numbers]
    width = len(body[0])
    for (line_number, _), row in zip(numbers, body):
        if len(row) != width:
            raise DatasetError(
                f"{filename}: line {line_number} has {len(row)} values but the first data row has {width}. "
                "Every row needs the same number of columns."
            )
        for column, cell in enumerate(row):
            if not _is_number(cell):
                name = f" ({header[column]!r})" if header and column < len(header) else ""
                raise DatasetError(
                    f"{filename}: the cell at line {line_number}, column {column + 1}{name} is {cell!r}, not a number. "
                    "Fix or remove it (only a first header row may hold text); encode categories as numbers."
                )
    return np.array(body, dtype=np.float64)  # e.g. quoted numbers, which the fast parser refuses


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter))]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
