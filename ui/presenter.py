"""Presenter mode: the Train page laid out for a 1280x720 projector, for a room watching one run.

A sidebar toggle (or ``present=1`` in the address, ui.share_link) turns it on: larger fonts and a larger atom
grid beside the loss curve, the advanced settings ("More settings") and the theory panel folded away, and
the page's margins cut so that the curve and the atoms fit the projector's height without scrolling.
"""

from __future__ import annotations

import streamlit as st

from ui import session

KEY = "presenter"
#: the Train page's knob column : live panel, and the panel's loss curve : atom grid, while presenting: a
#: narrower knob column and a larger grid (outside presenter mode the curve gets the larger share)
KNOBS_PANEL_PRESENTING = (1.0, 3.8)
CURVE_ATOMS_PRESENTING = (1.0, 1.15)
#: pixels of the loss chart's height: with the larger fonts, curve and atoms fit 720 pixels of window
CHART_HEIGHT_PRESENTING = 270

# Larger type where a room reads it (the run's status, the metrics, captions); no page title (the sidebar
# names the page) and smaller margins, for height; buttons and the knobs' labels keep their size (they would
# no longer fit their columns).
_STYLE = """<style>
.block-container { padding-top: 0.8rem !important; padding-bottom: 0.5rem !important; }
[data-testid="stMain"] [data-testid="stHeading"]:has(h2) { display: none; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 2.6rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.1rem !important; }
[data-testid="stProgress"] p { font-size: 1.25rem; }
[data-testid="stImageCaption"], [data-testid="stMain"] [data-testid="stCaptionContainer"] { font-size: 1rem; }
</style>"""


def on() -> bool:
    """Whether presenter mode is on in this session."""
    return bool(st.session_state.get(KEY, session.get().widgets.get(KEY, False)))


def set_on(value: bool) -> None:
    """Turn presenter mode on or off before the toggle is drawn (a link's ``present``)."""
    session.set_widget(KEY, bool(value))


def toggle() -> None:
    """The sidebar's switch."""
    st.toggle("Presenter mode", key=session.persist(KEY, False),
              help="For a projector (1280x720): larger fonts and atom grid; advanced settings and theory "
                   "folded away. In the address as present=1, so a copied link opens in it too.")
    session.remember(KEY)


def apply_style() -> None:
    if on():
        st.html(_STYLE)


def knobs_panel_widths(default: tuple[float, float]) -> tuple[float, float]:
    """The Train page's knob column and live panel widths: a wider panel while presenting."""
    return KNOBS_PANEL_PRESENTING if on() else default


def curve_atoms_widths(default: tuple[float, float]) -> tuple[float, float]:
    """The live panel's loss curve and atom grid widths: a larger grid while presenting."""
    return CURVE_ATOMS_PRESENTING if on() else default
