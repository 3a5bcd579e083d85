"""A folder or .zip of images as a data set: one grayscale image per row, all resized to one shape.

Zip archives are read in memory and defended: entries with '..' or absolute paths are refused, the
declared uncompressed size is capped (zipfile never inflates an entry past its declared size), and
Pillow's decompression-bomb guard is an error rather than a warning.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.zipread import ZIP_ERRORS, read_member

from .base import Dataset, DatasetError
from .option_names import where_set
from .preprocess import parse_image_shape, subset_indices

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
MAX_ZIP_UNCOMPRESSED_BYTES = 1 << 30  # 1 GiB of image files in one archive
MAX_TOTAL_VALUES = 200_000_000  # pixels across the data matrix (800 MB as float32)
_SKIPPED_FOLDERS = frozenset({"__MACOSX"})

# (name relative to the root, a function that returns the file's bytes)
_Entry = tuple[str, Callable[[], bytes]]


def read_image_folder(folder: Path, *, image_shape=None, n_samples=None, seed: int = 0) -> Dataset:
    """All images under ``folder`` (nested folders included; hidden files skipped)."""
    entries = [
        (path.relative_to(folder).as_posix(), path.read_bytes)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and _is_image_name(path.relative_to(folder).as_posix())
    ]
    return _images_to_dataset(entries, folder.name, image_shape=image_shape, n_samples=n_samples, seed=seed)


def read_image_zip(data: bytes, filename: str, *, image_shape=None, n_samples=None, seed: int = 0) -> Dataset:
    """All images inside the zip archive ``data`` (nested folders fine; __MACOSX and hidden files skipped)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as error:
        raise DatasetError(f"{filename} is not a valid zip archive (corrupt or truncated). Zip the images again.") from error
    with archive:
        members = [info for info in archive.infolist() if not info.filename.endswith("/")]  # is_dir() fails on ''
        for info in members:
            _check_safe_member_name(info.filename, filename)
        images = sorted((info for info in members if _is_image_name(info.filename)), key=lambda info: info.filename)
        declared = sum(info.file_size for info in images)
        if declared > MAX_ZIP_UNCOMPRESSED_BYTES:
            raise DatasetError(
                f"{filename} declares {declared / 2**20:.0f} MiB of uncompressed images, over the "
                f"{MAX_ZIP_UNCOMPRESSED_BYTES / 2**20:.0f} MiB limit (a possible zip bomb). Upload fewer or smaller images."
            )
        entries = [(info.filename, _member_reader(archive, info, filename)) for info in images]
        return _images_to_dataset(entries, filename, image_shape=image_shape, n_samples=n_samples, seed=seed)


def _member_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo, filename: str) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return read_member(archive, info, limit=info.file_size)  # no more than its header declares
        except ZIP_ERRORS as error:  # encrypted, bad CRC, truncated, damaged, an unknown compression method
            raise DatasetError(f"{filename}: cannot extract {info.filename} ({error}). Zip the images again.") from error

    return read


def _check_safe_member_name(name: str, filename: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise DatasetError(
            f"{filename} contains an entry with an unsafe path ({name!r}: absolute or with '..'), so it is refused. "
            "Create the zip from inside the image folder so every entry has a plain relative path."
        )


def _is_image_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    hidden = any(part.startswith(".") or part in _SKIPPED_FOLDERS for part in path.parts)
    return not hidden and path.suffix.lower() in IMAGE_SUFFIXES


def _open_image(data: bytes, name: str, where: str) -> Image.Image:
    """Open without decoding pixels; oversized (bomb) and unreadable images become DatasetErrors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DatasetError(
            f"{where}: {name} is too large to decode safely ({error}). Downscale it below "
            f"{Image.MAX_IMAGE_PIXELS:,} pixels or remove it."
        ) from error
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DatasetError(f"{where}: {name} is not a readable image (corrupt or truncated). Remove or re-save it.") from error


def _grayscale(image: Image.Image, name: str, where: str, shape: tuple[int, int]) -> np.ndarray:
    """Decode ``image`` to float32 grayscale in [0, 1], resized to ``shape`` (height, width)."""
    try:
        if image.mode.startswith("I;16"):
            pixels = np.asarray(image, dtype=np.float32) / 65535.0
        else:
            pixels = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (OSError, ValueError, SyntaxError) as error:
        raise DatasetError(f"{where}: {name} is corrupt or truncated ({error}). Remove or re-save it.") from error
    if pixels.shape != shape:
        resized = Image.fromarray(pixels).resize((shape[1], shape[0]), Image.Resampling.LANCZOS)
        pixels = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)  # Lanczos can overshoot
    return pixels.ravel()


def _images_to_dataset(entries: list[_Entry], where: str, *, image_shape, n_samples, seed: int) -> Dataset:
    if not entries:
        raise DatasetError(
            f"{where} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}). Add image files, in subfolders if you like."
        )
    sizes = []  # (height, width) of every image, read from headers only (bad files are reported first)
    for name, read in entries:
        width, height = _open_image(read(), name, where).size
        sizes.append((height, width))
    chosen = subset_indices(len(entries), n_samples, seed)
    picked = list(range(len(entries))) if chosen is None else [int(i) for i in chosen]
    if len(picked) < 2:  # one image, or n_samples=1: a single sample either way
        raise DatasetError(
            f"{where} gives a single image ({entries[picked[0]][0]}), which is a single sample; models need "
            "at least 2. " + ("Add more images." if len(entries) == 1 else
                             f"Ask for more samples: {where_set('n_samples', 'N')}.")
        )
    shape = _target_shape(image_shape, sizes)
    chosen = np.arange(len(entries)) if chosen is None else chosen
    if chosen.size * shape[0] * shape[1] > MAX_TOTAL_VALUES:
        raise DatasetError(
            f"{where}: {chosen.size} images of {shape[0]}x{shape[1]} pixels would need over "
            f"{MAX_TOTAL_VALUES:,} values. Ask for smaller pictures, {where_set('image_shape', ('HEIGHT', 'WIDTH'))}, "
            f"or fewer samples, {where_set('n_samples', 'N')}."
        )
    X = np.empty((chosen.size, shape[0] * shape[1]), dtype=np.float32)
    for row, index in enumerate(chosen):
        name, read = entries[index]
        X[row] = _grayscale(_open_image(read(), name, where), name, where, shape)
    labels, label_note = _folder_labels([name for name, _ in entries])  # classes from all images, not the subset
    labels = None if labels is None else labels[chosen]
    resized = sum(size != shape for size in sizes)
    return Dataset(
        X=X,
        name=where,
        description=(
            f"{where}: {chosen.size} grayscale images at {shape[0]}x{shape[1]}"
            f"{f' ({resized} resized)' if resized else ''}{label_note}."
        ),
        image_shape=shape,
        labels=labels,
    )


def _target_shape(image_shape, sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """``image_shape`` if given, else the most common (height, width)."""
    if image_shape is None:
        return Counter(sizes).most_common(1)[0][0]
    return parse_image_shape(image_shape)


def _folder_labels(names: list[str]) -> tuple[np.ndarray | None, str]:
    """Integer labels from each image's class folder (the first folder below the shared root, as in
    torchvision's ImageFolder), when the images sit in two or more such folders."""
    folder_parts = [PurePosixPath(name.replace("\\", "/")).parent.parts for name in names]
    shared = 0  # length of the folder prefix every image shares
    while all(len(parts) > shared and parts[shared] == folder_parts[0][shared] for parts in folder_parts):
        shared += 1
    folders = [parts[shared] if len(parts) > shared else "." for parts in folder_parts]
    classes = sorted(set(folders))
    if len(classes) < 2:
        return None, ""
    index = {folder: i for i, folder in enumerate(classes)}
    shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
    return np.array([index[f] for f in folders], dtype=np.int64), f"; labels = folder ({shown})"
