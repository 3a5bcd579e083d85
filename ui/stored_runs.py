"""Run-store access for the Compare, Sweep and Inspect pages: the store, its saved runs and their labels,
and a saved run loaded with its data and codes, cached across sessions.

Thin: the math lives in ``core.analysis``; this module only opens, caches and picks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from core import analysis, datasets
from core.store import FINISHED, RunStore, StoreError, default_root
from ui import data_loading, session


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
            + ("" if record.status == FINISHED else f" [{record.status}]"))




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
    def subset_note(self) -> str | None:
        """What a page says when it looks at a random subset of the data (a data set over 10,000 samples)."""
        total = int(np.asarray(self.dataset.X).shape[0])
        if self.X.shape[0] >= total:
            return None
        return (f"Measured on a random {self.X.shape[0]:,} of the data set's {total:,} samples, numbered 0 to "
                f"{self.X.shape[0] - 1:,} here.")

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
    return data_loading.load_choice(session.DataChoice(record.dataset, options))


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
