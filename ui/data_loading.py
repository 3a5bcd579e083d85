"""Data sets for the pages: the built-in ones loaded once per server (cached across sessions), this
session's current data set, its size in words, and an uploaded file's "Samples are" choice and guess."""

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


def sign_fix(choice: session.DataChoice) -> str:
    """How the Data page makes ``choice``'s data non-negative, for a model that needs it: centring comes after
    scaling (core.datasets), so with Center on, minmax alone would leave values below 0."""
    if choice.options.get("center"):
        return "on the Data page turn Center off (centring puts values below 0) and choose scale = minmax"
    return "on the Data page choose scale = minmax"


def dataset_summary(ds) -> str:
    shape = f"{ds.image_shape[0]}x{ds.image_shape[1]} images" if ds.image_shape else "vectors"
    return f"{ds.n_samples:,} x {ds.n_features} ({shape})"


# -- an uploaded numeric file: are its samples pictures or vectors (its as_vectors option)? --------------------
# Each uploaded file has its own choice (a radio under ``samples_key``) and its own guess by the loader (kept
# under ``_guess_key``: (kind, numbers per sample, image shape)), so switching files never carries one over.
PICTURES, VECTORS = "pictures", "vectors"


def samples_key(file_id) -> str:
    """The session key of the "Samples are" choice of the uploaded file ``file_id``."""
    return f"data:upload:samples:{file_id}"


def _guess_key(file_id) -> str:
    return f"data:upload:guess:{file_id}"


def samples_chosen(file_id) -> str | None:
    """PICTURES or VECTORS as chosen for the file (None before its choice is drawn)."""
    return st.session_state.get(samples_key(file_id))


def samples_guess(file_id) -> tuple | None:
    """(kind, numbers per sample, image shape) as the loader guessed them for the file; None before."""
    return st.session_state.get(_guess_key(file_id))


def as_vectors_option(file_id) -> bool | None:
    """The as_vectors option the file's choice says: None while it is the loader's own guess (no option needed,
    nothing kept in the run's data options), else True for vectors, False for pictures."""
    chosen, guess = samples_chosen(file_id), samples_guess(file_id)
    if chosen is None or (guess is not None and chosen == guess[0]):
        return None
    return chosen == VECTORS


def samples_are_vectors(file_id) -> bool:
    """Whether the file's samples are vectors as its choice stands (the loader's guess until one is made): the
    pictures' height and width then do not apply."""
    guess = samples_guess(file_id)
    return (samples_chosen(file_id) or (guess[0] if guess else None)) == VECTORS


def remember_guess(file_id, dataset: datasets.Dataset, options: dict) -> bool:
    """Keep the loader's guess for the file, when ``dataset`` was read with ``options`` that left it guessing;
    True when the guess is new (the form was drawn before it was known)."""
    if {"as_vectors", "image_shape"} & set(options):
        return False
    guess = (PICTURES if dataset.image_shape else VECTORS, dataset.n_features, dataset.image_shape)
    new = samples_guess(file_id) != guess
    st.session_state[_guess_key(file_id)] = guess
    return new


def samples_default(file_id, shape_given: bool) -> str:
    """What the choice starts at: the loader's guess, else pictures when a height and width are given."""
    guess = samples_guess(file_id)
    return guess[0] if guess else PICTURES if shape_given else VECTORS
