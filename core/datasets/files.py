"""Reading a data matrix from a user's file or upload: .npy, .npz, .safetensors, .csv, a folder or .zip of images.

The array formats (with their per-sample texts and labels) are read by ``core.datasets.activations`` and
``core.datasets.csv_files``, images by ``core.datasets.images``. Nothing is ever unpickled. Every problem
becomes a DatasetError that names the file, what is wrong and how to fix it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import activations
from .activations import ARRAY_FILE_OPTIONS, MAX_ARRAY_BYTES, Table  # noqa: F401 - MAX_ARRAY_BYTES: re-exported
from .base import Dataset, DatasetError, check_option_names
from .csv_files import read_csv
from .images import IMAGE_SUFFIXES, read_image_folder, read_image_zip
from .preprocess import as_data_matrix

# The extra options each kind of file accepts (besides load's own n_samples, scale, ...), with defaults.
FILE_OPTIONS: dict[str, dict] = {**ARRAY_FILE_OPTIONS, ".zip": {}, "folder": {}}
SUPPORTED_FORMATS = ".npy, .npz, .safetensors, .csv, .zip of images, or a folder of images"
#: file kinds whose rows are never guessed to be square images: activations and embeddings
VECTOR_KINDS = (".safetensors",)


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
    if kind in (".npy", ".safetensors") and path.stat().st_size > 0:  # memory-mapped: only the rows used are read
        check_option_names(options, FILE_OPTIONS[kind], f"{kind} files")
        if kind == ".npy":
            return _dataset(activations.read_npy_path(path, n_samples, seed), path.name, kind)
        return _dataset(activations.read_safetensors_path(path, options, n_samples, seed), path.name, kind)
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
        table = activations.read_npy_bytes(data, filename, n_samples)
    elif kind == ".npz":
        table = activations.read_npz(data, filename, options, n_samples)
    elif kind == ".safetensors":
        table = activations.read_safetensors_bytes(data, filename, options, n_samples, seed)
    else:
        table = read_csv(data, filename, options)
    return _dataset(table, filename, kind)


def _dataset(table: Table, filename: str, kind: str) -> Dataset:
    X, stacked_shape = as_data_matrix(table.array, filename)
    extras = [what for what, present in (("texts", table.texts is not None), ("labels", table.labels is not None))
              if present]
    return Dataset(
        X=X,
        name=filename,
        description=f"{filename}: {X.shape[0]:,} samples x {X.shape[1]:,} features"
                    + (f", with {' and '.join(extras)}." if extras else "."),
        image_shape=stacked_shape,
        labels=table.labels,
        texts=table.texts,
        label_names=table.label_names,
    )


def may_be_images(dataset: Dataset, filename: str) -> bool:
    """Whether rows of this file may be guessed to be square images: not activations (.safetensors), not
    rows that come with texts (embeddings of them)."""
    return Path(filename).suffix.lower() not in VECTOR_KINDS and dataset.texts is None
