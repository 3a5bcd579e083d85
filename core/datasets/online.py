"""Data sets that need one download: Olivetti faces and MNIST.

Each is fetched once, then stored as a plain ``.npz`` (read with ``allow_pickle=False``) in the cache
folder: ``$SAE_EXPLORER_DATA`` or ``~/.cache/sae-explorer``. Offline, loading raises a DatasetError
that says so, where the cache lives and which sets work without internet.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .base import Dataset, DatasetError

CACHE_ENV_VAR = "SAE_EXPLORER_DATA"
OFFLINE_ALTERNATIVES = "digits, faces, face-parts, patches, swimmer, bars, sparse-synthetic, gaussian"


def cache_dir() -> Path:
    """The folder holding downloaded data sets (not created until something is saved)."""
    configured = os.environ.get(CACHE_ENV_VAR)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "sae-explorer"


def _download_olivetti(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Fetch Olivetti faces with scikit-learn (network). Returns (X float32 in [0, 1], person ids)."""
    from sklearn.datasets import fetch_olivetti_faces

    bunch = fetch_olivetti_faces(data_home=str(folder / "sklearn"), download_if_missing=True, n_retries=1)
    return bunch.data.astype(np.float32), bunch.target.astype(np.int64)


def _download_mnist(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Fetch MNIST (mnist_784) from OpenML with scikit-learn (network). Returns (X uint8, digit labels)."""
    from sklearn.datasets import fetch_openml

    try:
        import pandas  # noqa: F401  (the pandas parser is far lighter on memory than liac-arff)

        parser = "pandas"
    except ImportError:
        parser = "liac-arff"
    bunch = fetch_openml(
        "mnist_784", version=1, data_home=str(folder / "sklearn"), as_frame=False, parser=parser, n_retries=1
    )
    return np.asarray(bunch.data, dtype=np.uint8), np.asarray(bunch.target).astype(np.int64)


# name -> (downloader, pixel shape, value scale to [0, 1], size of the one download, description)
_ONLINE_SETS = {
    "olivetti": (
        _download_olivetti.__name__,
        (64, 64),
        1.0,
        "about 1.5 MB",
        "Olivetti faces: 400 grayscale 64x64 faces of 40 people (AT&T); labels = person.",
    ),
    "mnist": (
        _download_mnist.__name__,
        (28, 28),
        1.0 / 255.0,
        "about 15 MB",
        "MNIST: 70,000 handwritten digits, 28x28 grayscale in [0, 1]; labels = digit.",
    ),
}


# the starts of scikit-learn's download-retry warnings (fetch_openml's, then its other fetchers')
_RETRY_NOTES = ("A network error occurred while downloading", "Retry downloading from url")


def cache_file(name: str) -> Path:
    """Where the cached arrays of the online set ``name`` live."""
    return cache_dir() / f"{name}.npz"


def is_cached(name: str) -> bool:
    """The online set ``name`` is on this machine: loading it needs no download."""
    return cache_file(name).exists()


def download_size(name: str) -> str:
    """The size of the online set's one download, in words ('about 1.5 MB')."""
    return _ONLINE_SETS[name][3]


def load_online(name: str) -> Dataset:
    """Load the online set ``name`` from the cache, downloading it first when it is missing."""
    downloader_name, image_shape, value_scale, download_size, description = _ONLINE_SETS[name]
    path = cache_file(name)
    if not path.exists():
        downloader = globals()[downloader_name]  # looked up at call time so tests can replace it
        try:
            with warnings.catch_warnings():  # its retry notes would come before the one clear error below
                for note in _RETRY_NOTES:
                    warnings.filterwarnings("ignore", message=note)
                X, labels = downloader(cache_dir())
        except OSError as error:  # URLError, HTTPError, timeouts and DNS failures are all OSErrors
            raise DatasetError(
                f"The '{name}' data set needs a one-time download ({download_size}) with internet access, "
                f"which failed here ({type(error).__name__}: {error}). Connect to the internet and load it "
                f"again; it is then cached in {path} (set {CACHE_ENV_VAR} to move the cache). Offline, use "
                f"a built-in set instead: {OFFLINE_ALTERNATIVES}."
            ) from error
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part.npz")
        np.savez_compressed(temporary, X=X, labels=labels)
        temporary.replace(path)  # atomic, so an interrupted save never leaves a half-written cache
    X, labels = _read_cache(name, path, image_shape)
    return Dataset(
        X=np.ascontiguousarray(X * np.float32(value_scale), dtype=np.float32),
        name=name,
        description=description,
        image_shape=image_shape,
        labels=labels,
    )


def _read_cache(name: str, path: Path, image_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    fix = f"Delete {path} and load '{name}' again (with internet) to download it afresh."
    try:
        with np.load(path, allow_pickle=False) as archive:
            X, labels = archive["X"], archive["labels"].astype(np.int64)
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DatasetError(f"The cached '{name}' file {path} is damaged ({error}). {fix}") from error
    n_pixels = image_shape[0] * image_shape[1]
    if X.ndim != 2 or X.shape[1] != n_pixels or labels.shape != (X.shape[0],):
        raise DatasetError(
            f"The cached '{name}' file {path} has arrays of shape {X.shape} and {labels.shape}; expected "
            f"(n, {n_pixels}) and (n,). {fix}"
        )
    return X.astype(np.float32), labels
