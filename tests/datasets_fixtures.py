"""Fixtures and file builders for tests/test_datasets.py (imported there, not a conftest)."""

from __future__ import annotations

import io
import urllib.error
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.datasets import online


def _no_network(folder):
    raise urllib.error.URLError("network disabled in tests")


def go_offline(monkeypatch, folder):
    """Point the download cache at ``folder`` and make every download fail as it does without a network."""
    monkeypatch.setenv(online.CACHE_ENV_VAR, str(folder))
    monkeypatch.setattr(online, "_download_olivetti", _no_network)
    monkeypatch.setattr(online, "_download_mnist", _no_network)
    return folder


@pytest.fixture(autouse=True)
def offline_cache(tmp_path, monkeypatch):
    """Point the download cache at a fresh folder and make every download fail, so no test can reach the network."""
    return go_offline(monkeypatch, tmp_path / "cache")


def image_bytes(height: int, width: int, value: int = 128, fmt: str = "PNG", mode: str = "L") -> bytes:
    """An encoded image of one flat gray ``value`` (RGB images get the same value in every channel)."""
    color = value if mode == "L" else (value,) * len(mode)
    buffer = io.BytesIO()
    Image.new(mode, (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """A zip archive holding ``entries`` (name -> content), deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def mixed_image_entries() -> dict[str, bytes]:
    """Three 6x4 images and one 10x10 in two class folders, plus files a loader must skip."""
    return {
        "set/cats/a.png": image_bytes(6, 4, 0),
        "set/cats/deeper/b.jpg": image_bytes(6, 4, 255, fmt="JPEG", mode="RGB"),
        "set/dogs/c.bmp": image_bytes(6, 4, 255, fmt="BMP"),
        "set/dogs/d.gif": image_bytes(10, 10, 255, fmt="GIF"),
        "set/notes.txt": b"not an image",
        "__MACOSX/set/cats/._a.png": b"resource fork junk",
        "set/.DS_Store": b"junk",
    }


def write_tree(root, entries: dict[str, bytes]) -> None:
    """Write ``entries`` (relative name -> content) under ``root``."""
    for name, content in entries.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def save_online_cache(folder, name: str, X: np.ndarray, labels: np.ndarray) -> None:
    """Store arrays in the cache format core.datasets.online reads."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / f"{name}.npz", X=X, labels=labels)
