"""The app's look and words, shared by every page: CSS, logo and icon, the device's name for the badge, a run's
state and speed in words, picture sizes; and the once-per-process start-up step."""

from __future__ import annotations

import gc
import importlib
from pathlib import Path

import streamlit as st

from core.device import device_label
from core.jobs import DIVERGED, DONE, FAILED, RUNNING, STOPPED, WAITING

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


# Streamlit cuts a long toggle or checkbox label with an ellipsis in a narrow column ('Non-negative ato...' in
# Train's knob column at a projector's 1024 px) and has no option against it: let the label wrap instead
WRAP_TOGGLE_LABELS = ('[data-testid="stCheckbox"] [data-testid="stWidgetLabel"] [data-testid="stMarkdownContainer"],'
                      '[data-testid="stCheckbox"] [data-testid="stWidgetLabel"] p { white-space: normal; }')


def apply_style() -> None:
    """The app's CSS (assets/style.css, and the one rule above)."""
    css = (ASSETS / "style.css").read_text(encoding="utf-8")
    st.html(f"<style>{css}\n{WRAP_TOGGLE_LABELS}</style>")


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


def picture_width(picture) -> str:
    """Wide pictures fill their column; small ones keep their own size (a stretched atom blurs)."""
    return "stretch" if picture.width > 320 else "content"
