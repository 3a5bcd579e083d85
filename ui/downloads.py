"""Download buttons of the pages: PNG pictures, atom grids and ZIPs, weights, CSV tables. Each file is made
only when its button is clicked (encoding costs up to 120 ms, and a page reruns on every widget change)."""

from __future__ import annotations

import re

import streamlit as st

from core import analysis, interop, render
from core.store import RunStore
from ui import session


def file_stem(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", "-".join(parts)).strip("_")[:80] or "export"


def png_button(picture, label: str, file_name: str, key: str, width: str = "stretch", **kwargs) -> None:
    """A PNG download of ``picture`` (a PIL image, or a function making one), encoded only when clicked:
    encoding costs up to 120 ms, and the page reruns on every widget change."""
    make = picture if callable(picture) else lambda: picture
    st.download_button(label, lambda: render.png_bytes(make()), file_name=file_name, mime="image/png", key=key,
                       on_click="ignore", icon=":material/image:", width=width, **kwargs)


def grid_scale_slider(key: str, container=st) -> int:
    """The atom grid's scale control (pixels per atom pixel) for a grid download; the caller remembers ``key``
    with its other widgets. One key per page: Streamlit tells apart widgets of different pages even with the
    same key, so a key shared by two pages would lose its value on the way from one to the other."""
    return int(container.slider("Scale", 1, 16, key=session.persist(key, 4), help="Pixels per atom pixel."))


def atoms_buttons(atoms, image_shape, stem: str, key: str, what: str = "atoms", scale: int = 4) -> None:
    """Two buttons: the atom grid as PNG (``scale`` pixels per atom pixel) and a ZIP of one PNG per atom
    (both made when clicked), each as wide as its label, in a row that wraps on a narrow screen."""
    row = st.container(horizontal=True)
    with row:
        png_button(lambda: render.atom_grid(atoms, image_shape, scale=scale), f"Grid of {what} (PNG)",
                   f"{stem}-atoms.png", key=f"{key}:png", width="content")
        st.download_button(f"Single {what} (ZIP of PNGs)", lambda: render.atoms_zip_bytes(atoms, image_shape),
                           file_name=f"{stem}-atoms.zip", mime="application/zip", key=f"{key}:zip",
                           on_click="ignore", icon=":material/folder_zip:", width="content")


def weights_button(run_store: RunStore, record, key: str, label: str | None = None, stem: str | None = None) -> None:
    st.download_button(label or "Weights (safetensors + JSON config)", lambda: run_store.checkpoint_bytes(record.id),
                       file_name=f"{stem or file_stem(record.name)}-weights.zip", mime="application/zip", key=key,
                       on_click="ignore", icon=":material/download:", width="stretch",
                       help="A zip with weights.safetensors and config.json (core.checkpoint).")


def sae_format_buttons(model_name: str, make_files, stem: str, key: str, disabled: bool = False) -> None:
    """One button per outside SAE format (SAELens, sparsify): a ZIP of its cfg.json and safetensors, made by
    ``make_files(format)`` when clicked. A format that cannot hold the model shows a disabled button, and a
    caption says why (core.interop's refusal)."""
    for column, fmt in zip(st.columns(len(interop.FORMATS)), interop.FORMATS):
        reason = interop.can_export(model_name, fmt)
        label = interop.LABELS[fmt]
        column.download_button(
            f"SAE for {label} (ZIP)", (lambda f=fmt: interop.zip_bytes(make_files(f))) if reason is None else b"",
            file_name=f"{stem}-{fmt}.zip", mime="application/zip", key=f"{key}:{fmt}", on_click="ignore",
            disabled=disabled or reason is not None, icon=":material/share:", width="stretch",
            help=reason or f"cfg.json and {interop.WEIGHT_FILES[fmt]}: unzip to a folder and load it with "
                           f"{interop.LOADERS[fmt]}(folder). The SAE expects its inputs prepared as in training.")
    if (why := interop.refusals(model_name)) is not None:
        st.caption(why)


def run_sae_format_buttons(run_store: RunStore, record, key: str) -> None:
    """``sae_format_buttons`` for a saved run (its data set and options go into cfg.json's provenance)."""
    sae_format_buttons(record.model, lambda fmt: interop.run_export_files(run_store, record.id, fmt),
                       file_stem(record.name), key)


def job_sae_format_buttons(job, data_choice, stem: str, key: str, disabled: bool) -> None:
    """``sae_format_buttons`` for the Train page's run (``job``); the data options go into the provenance
    only when ``data_choice`` (the Data page's pick) is the data the run trained on."""
    same_data = data_choice is not None and getattr(data_choice, "label", None) == job.dataset_name
    options = dict(data_choice.options) if same_data else {}
    sae_format_buttons(job.model_name, lambda fmt: interop.export_files(
        job.model, fmt, interop.make_provenance(job.model, job.dataset_name, options)), stem, key, disabled)


def csv_button(rows, label: str, file_name: str, key: str, **kwargs) -> None:
    st.download_button(label, analysis.rows_to_csv(rows), file_name=file_name, mime="text/csv", key=key,
                       on_click="ignore", icon=":material/table:", width="stretch", **kwargs)
