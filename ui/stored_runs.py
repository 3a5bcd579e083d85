"""What the Compare, Sweep and Inspect pages share: the run store, a saved run with its data, caches,
remembered widget values whose options come from data, downloads.

Thin: the math lives in ``core.analysis``; this module only caches, picks and draws download buttons.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from core import analysis, datasets, render
from core.store import RunStore, StoreError, default_root
from ui import look, session


@st.cache_resource(show_spinner=False, max_entries=4)
def _open_store(root: str) -> RunStore:
    return RunStore(root)


@st.cache_resource(show_spinner=False, max_entries=64)
def saved_atoms(root: str, run_id: str) -> np.ndarray:
    """A saved run's atoms (``components_``), read from disk once: saved weights never change."""
    return _open_store(root).load_model(run_id, device="cpu").components_


def store() -> RunStore | None:
    """The run store ($SAE_EXPLORER_RUNS, else ./runs); None after showing why it cannot be opened."""
    try:
        run_store = _open_store(str(default_root().expanduser().resolve()))
    except (StoreError, OSError) as error:
        st.error(f"The run store cannot be opened: {error}")
        return None
    if run_store.read_only and not run_store.retry_writable():
        st.warning(f"Saved runs can be viewed but nothing new is saved: {run_store.read_only_reason}")
    return run_store


def saved_runs(run_store: RunStore | None, **filters) -> list:
    """Runs with weights, newest first (an unreadable store shows its message and gives none)."""
    if run_store is None:
        return []
    try:
        return run_store.list_runs(with_weights=True, **filters)
    except (StoreError, OSError) as error:
        st.error(f"The run store cannot be read: {error}")
        return []


def data_key(record) -> str:
    """Runs with the same key were trained on the same data matrix (name and load options)."""
    options = ",".join(f"{k}={v!r}" for k, v in sorted(record.data_options.items()))
    return f"{record.dataset}|{options}"


def data_label(record) -> str:
    shown = {k: v for k, v in record.data_options.items() if v not in (None, False, "none")}
    extras = ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))
    return record.dataset + (f" ({extras})" if extras else "")


def run_label(record) -> str:
    """Name, model and save time of a run, plus the start of its id: a sweep saves several runs of one name
    and model within a second, and a picker needs distinct labels."""
    day, clock, tag = record.id[:8], record.id[9:15], record.id[16:20]
    when = f"{day[:4]}-{day[4:6]}-{day[6:]} {clock[:2]}:{clock[2:4]}:{clock[4:]}"
    model = "" if record.model in str(record.name) else f" · {record.model}"  # "nmf (16) side by side · nmf"
    return (f"{record.name}{model} · {when} · #{tag}"
            + ("" if record.status == "finished" else f" [{record.status}]"))


def file_stem(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", "-".join(parts)).strip("_")[:80] or "export"


@dataclass
class LoadedRun:
    """A saved run ready to look at: its record, fitted model, data (a sample of at most 10,000 rows)
    and the codes of that sample."""

    record: Any
    model: Any
    dataset: Any
    X: np.ndarray
    rows: np.ndarray
    codes: np.ndarray

    @property
    def image_shape(self):
        shape = self.record.image_shape or getattr(self.dataset, "image_shape", None)
        if shape is not None and int(shape[0]) * int(shape[1]) != self.X.shape[1]:
            return None
        return shape

    @property
    def labels(self):
        labels = getattr(self.dataset, "labels", None)
        return None if labels is None else np.asarray(labels)[self.rows]


def dataset_of(record):
    """The data a run was trained on, loaded again; raises ValueError with a message when it cannot be."""
    state = session.get()
    if state.dataset is not None and record.dataset == state.data.label and (
            record.data_options == {k: v for k, v in state.data.options.items()} or state.data.upload):
        return state.dataset
    if record.dataset not in datasets.available():
        raise ValueError(f"The data of run {record.name!r} ({record.dataset}) was an upload that is not loaded "
                         "now; upload the same file on the Data page to look at this run.")
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in record.data_options.items()}
    return look.load_choice(session.DataChoice(record.dataset, options))


@st.cache_resource(show_spinner="Loading the run ...", max_entries=12)
def _load(root: str, run_id: str, updated_at: float, _record, _dataset) -> LoadedRun:
    model = _open_store(root).load_model(run_id, device="cpu")
    X = np.asarray(_dataset.X, dtype=np.float32)
    rows = analysis.analysis_rows(X.shape[0], 10_000)
    X = X[rows]
    return LoadedRun(record=_record, model=model, dataset=_dataset, X=X, rows=rows, codes=model.transform(X))


def load_run(run_store: RunStore, record) -> LoadedRun | None:
    """The run with its data and codes (cached); None after showing why it cannot be loaded."""
    try:
        dataset = dataset_of(record)
        if dataset.X.shape[1] != record.n_features:
            raise ValueError(f"Run {record.name!r} was trained on {record.n_features} features but its data set "
                             f"now has {dataset.X.shape[1]}; it cannot be evaluated on it.")
        return _load(str(run_store.root), record.id, record.updated_at, record, dataset)
    except Exception as error:  # noqa: BLE001 - core's message, shown in the page; the app goes on
        st.error(str(error))
        return None


# -- caches and remembered choices --------------------------------------------------------------------------
class RecentResults:
    """The last few results, keyed by what they were computed from, shared by every session's thread.

    For what a fragment redraws several times a second from the same inputs (as ``ui.train_live`` does for
    the live atom grid): each input is computed once (a result of None is not kept)."""

    def __init__(self, kept: int = 32):
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        value = self._items.get(key)  # read once, no check-then-index: another thread may trim meanwhile
        if value is None:
            value = compute()
            with self._lock:  # two threads trimming at once could pop from an emptied dict
                self._items[key] = value
                while len(self._items) > self._kept:
                    self._items.popitem(last=False)
        return value


def persist_choice(key: str, options, default) -> str:
    """``session.persist`` for a widget whose options come from data (saved runs, a run's size): a remembered
    value that is no longer offered falls back to ``default`` (of a multiselect's list, only the offered
    ones are kept) instead of making Streamlit raise."""
    session.persist(key, default)
    value = st.session_state[key]
    if isinstance(value, list):
        offered = [item for item in value if item in options]
        if offered != value:
            st.session_state[key] = offered
    elif value not in options:
        st.session_state[key] = default
    return key


# -- downloads ----------------------------------------------------------------------------------------------
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


def picture_width(picture) -> str:
    return "stretch" if picture.width > 320 else "content"
