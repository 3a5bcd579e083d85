"""Reading a data matrix from a user's file or upload: .npy, .npz, .safetensors, .csv, a folder or .zip of images.

The array formats (with their per-sample texts and labels) are read by ``core.datasets.activations`` and
``core.datasets.csv_files``, images by ``core.datasets.images``. Nothing is ever unpickled. Every problem
becomes a DatasetError that names the file, what is wrong and how to fix it. A sample of an array format is
a picture or a vector as its ``as_vectors`` option says, else as guessed (``may_be_images``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import activations
from .activations import ARRAY_FILE_OPTIONS, MAX_ARRAY_BYTES, Table  # noqa: F401 - MAX_ARRAY_BYTES: re-exported
from .base import Dataset, DatasetError, check_option_names
from .option_names import where_set
from .csv_files import read_csv
from .images import IMAGE_SUFFIXES, read_image_folder, read_image_zip
from .preprocess import as_data_matrix, resolve_image_shape

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
            table = activations.read_npy_path(path, n_samples, seed)
        else:
            table = activations.read_safetensors_path(path, options, n_samples, seed)
        return _dataset(table, path.name, kind, options, image_shape)
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
    return _dataset(table, filename, kind, options, image_shape)


def as_vectors_option(options: dict, filename: str) -> bool | None:
    """The ``as_vectors`` option (``core.datasets.activations``): True (vectors), False (pictures) or None
    (a guess)."""
    value = options.get("as_vectors")
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    raise DatasetError(f"{filename}: as_vectors={value!r} must be True (each sample is a vector), False (a picture) "
                       f"or None (guess from the shape), e.g. {where_set('as_vectors', True)}.")


def _dataset(table: Table, filename: str, kind: str, options: dict, image_shape=None) -> Dataset:
    X, stacked_shape = as_data_matrix(table.array, filename)
    n_features = X.shape[1]
    as_vectors = as_vectors_option(options, filename)
    guess = resolve_image_shape(n_features, None, stacked_shape, infer_square=_guesses_pictures(kind, table.texts))
    if as_vectors and image_shape is not None:
        raise DatasetError(f"{filename}: {where_set('as_vectors', True)} reads each sample as a vector, but "
                           f"{where_set('image_shape', tuple(image_shape))} makes it a picture. Pass only one of them.")
    if as_vectors is False and image_shape is None and resolve_image_shape(n_features) is None and not stacked_shape:
        raise DatasetError(f"{filename}: each sample has {n_features:,} numbers, which make no square picture. Give "
                           f"the pictures' height and width, {where_set('image_shape', ('HEIGHT', 'WIDTH'))}, "
                           f"or read the samples as vectors, {where_set('as_vectors', True)}.")
    extras = [what for what, present in (("texts", table.texts is not None), ("labels", table.labels is not None))
              if present]
    description = (f"{filename}: {X.shape[0]:,} samples x {n_features:,} features"
                   + (f", with {' and '.join(extras)}." if extras else "."))
    if as_vectors and guess is not None:
        description += f" Read as vectors, not as the {guess[0]} x {guess[1]} pictures its shape suggests."
    return Dataset(
        X=X,
        name=filename,
        description=description,
        image_shape=None if as_vectors else stacked_shape,
        labels=table.labels,
        texts=table.texts,
        label_names=table.label_names,
        options={} if as_vectors is None else {"as_vectors": as_vectors},
    )


def _guesses_pictures(kind: str, texts) -> bool:
    """Whether rows of this kind of file are guessed to be square pictures when nothing says: not activations
    (.safetensors), not rows that come with texts (embeddings of them)."""
    return kind not in VECTOR_KINDS and texts is None


def may_be_images(dataset: Dataset, filename: str) -> bool:
    """Whether rows of this file may be taken for square pictures: as its ``as_vectors`` option says, else by
    the guess (``_guesses_pictures``)."""
    as_vectors = dataset.options.get("as_vectors")
    if as_vectors is not None:
        return not as_vectors
    return _guesses_pictures(Path(filename).suffix.lower(), dataset.texts)
