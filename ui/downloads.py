"""Download buttons of the pages: PNG pictures, atom grids and ZIPs, weights, CSV tables. Each file is made
only when its button is clicked (encoding costs up to 120 ms, and a page reruns on every widget change)."""

from __future__ import annotations

import re

import streamlit as st

from core import analysis, render
from core.store import RunStore
from ui import session


def file_stem(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", "-".join(parts)).strip("_")[:80] or "export"


def png_button(picture, label: str, file_name: str, key: str, **kwargs) -> None:
    """A PNG download of ``picture`` (a PIL image, or a function making one), encoded only when clicked:
    encoding costs up to 120 ms, and the page reruns on every widget change."""
    make = picture if callable(picture) else lambda: picture
    st.download_button(label, lambda: render.png_bytes(make()), file_name=file_name, mime="image/png", key=key,
                       on_click="ignore", icon=":material/image:", width="stretch", **kwargs)


def grid_scale_slider(key: str, container=st) -> int:
    """The atom grid's scale control (pixels per atom pixel) for a grid download; the caller remembers ``key``
    with its other widgets. One key per page: Streamlit tells apart widgets of different pages even with the
    same key, so a key shared by two pages would lose its value on the way from one to the other."""
    return int(container.slider("Scale", 1, 16, key=session.persist(key, 4), help="Pixels per atom pixel."))


def atoms_buttons(atoms, image_shape, stem: str, key: str, what: str = "atoms", scale: int = 4) -> None:
    """Two buttons: the atom grid as PNG (``scale`` pixels per atom pixel) and a ZIP of one PNG per atom
    (both made when clicked)."""
    left, right = st.columns(2)
    with left:
        png_button(lambda: render.atom_grid(atoms, image_shape, scale=scale), f"Grid of {what} (PNG)",
                   f"{stem}-atoms.png", key=f"{key}:png")
    with right:
        st.download_button(f"Single {what} (ZIP of PNGs)", lambda: render.atoms_zip_bytes(atoms, image_shape),
                           file_name=f"{stem}-atoms.zip", mime="application/zip", key=f"{key}:zip",
                           on_click="ignore", icon=":material/folder_zip:", width="stretch")


def weights_button(run_store: RunStore, record, key: str, label: str | None = None) -> None:
    st.download_button(label or "Weights (safetensors + JSON config)", lambda: run_store.checkpoint_bytes(record.id),
                       file_name=f"{file_stem(record.name)}-weights.zip", mime="application/zip", key=key,
                       on_click="ignore", icon=":material/download:", width="stretch",
                       help="A zip with weights.safetensors and config.json (core.checkpoint).")


def csv_button(rows, label: str, file_name: str, key: str, **kwargs) -> None:
    st.download_button(label, analysis.rows_to_csv(rows), file_name=file_name, mime="text/csv", key=key,
                       on_click="ignore", icon=":material/table:", width="stretch", **kwargs)
