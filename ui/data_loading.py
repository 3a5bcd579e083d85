"""Data sets for the pages: the built-in ones loaded once per server (cached across sessions), this
session's current data set, and its size in words."""

from __future__ import annotations

import streamlit as st

from core import datasets
from ui import session


@st.cache_resource(max_entries=8, show_spinner="Loading the data set ...")
def _load_builtin(name: str, options: tuple) -> datasets.Dataset:
    return datasets.load(name, **dict(options))


def load_choice(choice: session.DataChoice):
    """The Dataset of a built-in choice (cached across sessions); raises core's DatasetError/ValueError."""
    return _load_builtin(choice.name, tuple(sorted(choice.options.items())))


def current_dataset():
    """This session's data set, loading it when needed; None (and ``state.data_error``) on failure."""
    state = session.get()
    if state.dataset is not None:
        return state.dataset
    if state.data.upload:
        return None
    try:
        state.dataset = load_choice(state.data)
        state.data_error = None
    except Exception as exc:  # noqa: BLE001 - core's message is shown to the user
        state.data_error = str(exc)
        state.dataset = None
    return state.dataset


def dataset_summary(ds) -> str:
    shape = f"{ds.image_shape[0]}x{ds.image_shape[1]} images" if ds.image_shape else "vectors"
    return f"{ds.n_samples:,} x {ds.n_features} ({shape})"
