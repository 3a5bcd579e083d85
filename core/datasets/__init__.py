"""Data sets: ``available()`` lists names, ``load(name_or_path, **options)`` returns a ``Dataset``.

Built-in sets (``available()``, 'digits' first): digits, faces, face-parts, patches, swimmer, bars,
sparse-synthetic, gaussian, text-embeddings (with ``texts``), and the download-once olivetti and mnist. ``DATASET_OPTIONS[name]`` holds the extra options
each accepts with their defaults. A path loads a .npy, .npz, .safetensors or .csv (with per-sample texts
and labels: ``core.datasets.activations``), a .zip of images or a folder of images; ``load_bytes`` does the
same for an upload.

Every load then applies, in order: a random subset of ``n_samples`` rows (deterministic in ``seed``;
for generated sets, the number to generate), ``scale`` (None, 'minmax' to [0, 1] over the whole set,
'standard' per feature) and ``center`` (subtract the per-feature mean). ``truth`` is left in the
unscaled feature space. Bad input raises ``DatasetError`` (a ValueError) naming the problem and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .base import Dataset, DatasetError, check_bool, check_int, check_option_names
from .builtin import BUILTIN_SETS
from .files import FILE_OPTIONS, may_be_images, read_bytes, read_file
from .online import cache_dir
from .option_names import where_set
from .preprocess import (SCALE_CHOICES, center_data, check_finite, resolve_image_shape, scale_data, subset_indices,
                         unknown_scale)

__all__ = [
    "DATASET_OPTIONS",
    "DEFAULT_N_SAMPLES",
    "FILE_OPTIONS",
    "ONLINE_DATASETS",
    "SCALE_CHOICES",
    "Dataset",
    "DatasetError",
    "available",
    "cache_dir",
    "describe",
    "is_builtin",
    "load",
    "load_bytes",
]

DATASET_OPTIONS: dict[str, dict] = {name: dict(spec.options) for name, spec in BUILTIN_SETS.items()}
# Rows made when n_samples is None: a count for generated sets, None (all rows) for fixed ones.
DEFAULT_N_SAMPLES: dict[str, int | None] = {name: spec.default_n_samples for name, spec in BUILTIN_SETS.items()}
ONLINE_DATASETS: tuple[str, ...] = tuple(name for name, spec in BUILTIN_SETS.items() if spec.online)
MAX_GENERATED_SAMPLES = 1_000_000
MIN_SAMPLES = 2  # a model needs at least two samples


def available() -> list[str]:
    """Names of the built-in data sets, the default ('digits') first."""
    return list(BUILTIN_SETS)


def describe(name: str) -> str:
    """A one-line description of the built-in set ``name``."""
    return BUILTIN_SETS[_builtin_name(name)].summary


def load(
    name_or_path: str | os.PathLike,
    *,
    n_samples: int | None = None,
    scale: str | None = None,
    center: bool = False,
    seed: int = 0,
    image_shape: tuple[int, int] | None = None,
    **dataset_options,
) -> Dataset:
    """Load a built-in set by name, or a .npy/.npz/.safetensors/.csv/.zip file or image folder by path.

    ``dataset_options`` are the set's extra options (``DATASET_OPTIONS[name]``; for files ``FILE_OPTIONS``:
    ``key``/``tensor``, ``texts``, ``labels``).
    ``image_shape`` (height, width) reshapes rows, or is the size images from a folder/zip are resized to.
    """
    n_samples, seed, center = _check_common(n_samples, scale, center, seed)
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise DatasetError(
            f"load() takes a data set name or a path, not {type(name_or_path).__name__}. "
            "For raw bytes use load_bytes(data, filename)."
        )
    if isinstance(name_or_path, str) and not _looks_like_path(name_or_path):
        name = _builtin_name(name_or_path)
        dataset, used = _make_builtin(name, n_samples, seed, dataset_options)
        generated = BUILTIN_SETS[name].generated
        return _finish(dataset, used, n_samples, scale, center, seed, image_shape, subsample=not generated)
    path = Path(name_or_path).expanduser()
    dataset = read_file(path, dataset_options, image_shape=image_shape, n_samples=n_samples, seed=seed)
    used = {"path": str(path), **dataset_options}
    return _finish(dataset, used, n_samples, scale, center, seed, image_shape,
                   infer_square=may_be_images(dataset, path.name))


def load_bytes(
    data,
    filename: str,
    *,
    n_samples: int | None = None,
    scale: str | None = None,
    center: bool = False,
    seed: int = 0,
    image_shape: tuple[int, int] | None = None,
    **options,
) -> Dataset:
    """Load an uploaded file: ``data`` is its bytes (or a file-like object), ``filename`` gives its format."""
    n_samples, seed, center = _check_common(n_samples, scale, center, seed)
    if hasattr(data, "getvalue"):
        data = data.getvalue()
    elif hasattr(data, "read"):
        data = data.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DatasetError(f"load_bytes() needs bytes or a file-like object, not {type(data).__name__}.")
    dataset = read_bytes(bytes(data), str(filename), options, image_shape=image_shape, n_samples=n_samples, seed=seed)
    used = {"filename": str(filename), **options}
    return _finish(dataset, used, n_samples, scale, center, seed, image_shape,
                   infer_square=may_be_images(dataset, str(filename)))


def _check_common(n_samples, scale, center, seed) -> tuple[int | None, int, bool]:
    if n_samples is not None:
        n_samples = check_int("n_samples", n_samples, MIN_SAMPLES)
    if scale not in SCALE_CHOICES:
        raise unknown_scale(scale)
    return n_samples, check_int("seed", seed, 0), check_bool("center", center)


def _normalised(name: str) -> str:
    """A built-in set's name as typed ('Sparse_Synthetic ') in the registry's spelling ('sparse-synthetic')."""
    return str(name).strip().lower().replace("_", "-")


def is_builtin(name) -> bool:
    """Whether ``name`` names a built-in set (in any case, with _ or -)."""
    return isinstance(name, str) and _normalised(name) in BUILTIN_SETS


def _looks_like_path(text: str) -> bool:
    if is_builtin(text):
        return False
    return "/" in text or os.sep in text or bool(Path(text).suffix) or Path(text).exists()


def _builtin_name(name: str) -> str:
    normalised = _normalised(name)
    if normalised not in BUILTIN_SETS:
        raise DatasetError(
            f"Unknown data set {name!r}. Built-in sets: {', '.join(BUILTIN_SETS)}. Or pass the path of a "
            ".npy, .npz, .safetensors, .csv or .zip file, or of a folder of images."
        )
    return normalised


def _make_builtin(name: str, n_samples: int | None, seed: int, given: dict) -> tuple[Dataset, dict]:
    spec = BUILTIN_SETS[name]
    check_option_names(given, spec.options, f"data set '{name}'")
    used = {**spec.options, **given}
    if not spec.generated:
        return spec.make(**used), used
    count = spec.default_n_samples if n_samples is None else n_samples
    if count > MAX_GENERATED_SAMPLES:
        raise DatasetError(f"n_samples={count:,} is too many to generate; ask for at most {MAX_GENERATED_SAMPLES:,}: "
                           f"{where_set('n_samples', MAX_GENERATED_SAMPLES)}.")
    return spec.make(count, np.random.default_rng(seed), **used), used


def _finish(
    dataset: Dataset, used: dict, n_samples, scale, center, seed, image_shape, *, subsample=True, infer_square=False
) -> Dataset:
    """Subset, check, reshape-check, scale and centre; record every option used."""
    X, labels, texts = dataset.X, dataset.labels, dataset.texts
    rows = subset_indices(X.shape[0], n_samples, seed) if subsample else None
    if rows is not None:
        X = X[rows]
        labels = None if labels is None else labels[rows]
        texts = None if texts is None else texts[rows]
    check_finite(X, dataset.name)
    shape = resolve_image_shape(X.shape[1], image_shape, dataset.image_shape, infer_square=infer_square)
    X = center_data(scale_data(X, scale)) if center else scale_data(X, scale)
    options = {**used, "n_samples": int(X.shape[0]), "scale": scale, "center": center, "seed": seed, "image_shape": shape}
    return Dataset(
        X=np.ascontiguousarray(X, dtype=np.float32),
        name=dataset.name,
        description=dataset.description,
        image_shape=shape,
        labels=labels,
        truth=dataset.truth,
        texts=texts,
        label_names=dataset.label_names,
        options=options,
    )
