"""Shared look and cached loaders for every page: CSS, the device badge, data sets."""

from __future__ import annotations

import contextlib
import gc
import importlib
import threading
from pathlib import Path

import streamlit as st

from core import datasets
from core.device import device_label
from core.jobs import DIVERGED, DONE, FAILED, RUNNING, STOPPED, WAITING
from ui import session

#: the Steps choices of the Compare and Sweep pages (Train's own slider goes on to 10,000)
STEP_CHOICES = (50, 100, 200, 500, 1000, 2000, 5000)


def tile_scale(image_shape, target: int = 64) -> int:
    """Pixels per image pixel so that a tile is about ``target`` pixels across (4 for a heat-map row)."""
    return max(1, target // max(image_shape)) if image_shape else 4


#: a run's state in the pages' words (progress lines, captions)
STATE_WORDS = {WAITING: "Waiting", RUNNING: "Training", DONE: "Done", STOPPED: "Stopped", DIVERGED: "Diverged",
               FAILED: "Failed"}


def speed(snap) -> str:
    """A running job's speed in words: "starting" before its first logged steps give a rate (not "0 steps/s")."""
    return f"{snap.steps_per_second:,.0f} steps/s" if snap.steps_per_second >= 0.5 else "starting"


ASSETS = Path(__file__).resolve().parent.parent / "assets"
LOGO = ASSETS / "logo.svg"
ICON = ASSETS / "icon.png"


_frame = threading.local()


@contextlib.contextmanager
def frame():
    """app.py runs the chosen page inside this, so that a page knows it has the app's frame around it."""
    _frame.active = True
    try:
        yield
    finally:
        _frame.active = False


def require_frame() -> None:
    """Called first by every page. A folder named ``pages/`` next to app.py makes Streamlit start in its
    old multipage mode, which runs a page on its own (no navigation, sidebar or style) when a fresh
    server's first visitor opens e.g. /train. Switch Streamlit to app.py's ``st.navigation`` (what its
    first call does anyway) and run again, this time through app.py."""
    if getattr(_frame, "active", False):
        return
    try:  # Streamlit 1.4x-1.6x keep the switch here; elsewhere the page just runs without its frame
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if getattr(PagesManager, "uses_pages_directory", None):
        PagesManager.uses_pages_directory = False
        st.rerun()


def apply_style() -> None:
    """The app's CSS (assets/style.css)."""
    css = (ASSETS / "style.css").read_text(encoding="utf-8")
    st.html(f"<style>{css}</style>")


@st.cache_resource(show_spinner=False)
def freeze_startup_objects() -> int:
    """Once per server process: import what the pages use, then move every object alive now (torch's,
    scikit-learn's, plotly's and Streamlit's modules, classes and functions, about 300,000) into the
    collector's permanent generation, so that Python's full collections skip them. Returns how many.

    A full collection walked them all with the GIL held, 0.2-0.4 s every half minute or so under load, and
    every open tab stopped refreshing meanwhile (bench/soak.py); it now walks only what pages make."""
    for module in ("core.models", "core.render", "plotly.graph_objects"):  # torch, scikit-learn, plotly
        importlib.import_module(module)
    gc.collect()  # garbage first: what is frozen is never freed
    gc.freeze()
    return gc.get_freeze_count()


@st.cache_resource(show_spinner=False)
def device_name() -> str:
    try:
        return device_label()
    except Exception:  # noqa: BLE001 - a badge must never break the page
        return "CPU"


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
