"""SAE/NMF Explorer: train autoencoders, sparse autoencoders and NMF in the browser and watch them learn.

Run with ``make run`` (``streamlit run app.py``). This script is the frame every page runs in: the
navigation, the shared look, and the sidebar (chosen data set and model, device badge).
"""

from __future__ import annotations

import streamlit as st

from core.jobs import RUNNING, WAITING, get_manager
from pages import _state, _ui

st.set_page_config(page_title="SAE/NMF Explorer", page_icon=str(_ui.ICON), layout="wide")
st.logo(str(_ui.LOGO), size="large")
# the navigation first: until it is sent, the browser lists every file of pages/ as a page
page = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/dataset:", url_path="data"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("pages/sweep.py", title="Sweep", icon=":material/tune:", url_path="sweep"),
    st.Page("pages/inspect.py", title="Inspect", icon=":material/search:", url_path="inspect"),
])
_ui.apply_style()
get_manager()  # made once per process; starts its warm training worker processes
_ui.freeze_startup_objects()  # once per process: full garbage collections skip the libraries' objects
BADGE_PERIOD = 1.0  # seconds between two badge refreshes while a run goes
# On the Train page its live panel already redraws the run 2.5 times a second: the badge can be slower there
# (each fragment run costs every open tab a full app re-render in the browser).
BADGE_PERIOD_BESIDE_LIVE_PANEL = 2.0


def _badge(rerun_when_done: bool) -> None:
    """Device and live speed; while runs go this also keeps their heartbeats alive on every page."""
    state = _state.get()
    for running in state.background:  # Compare's and Sweep's runs, read here when their page is not shown
        if running.active:
            running.touch()
    job = state.job
    snap = job.snapshot() if job is not None else None
    if snap is not None and snap.state == RUNNING:
        speed, css = _ui.speed(snap), "on"
    elif snap is not None and snap.state == WAITING:
        speed, css = "waiting for a slot", "wait"
    else:
        speed, css = "idle", "off"
    counts = get_manager().counts()
    waiting = f", {counts['waiting']} waiting" if counts["waiting"] else ""
    st.html(f'<div class="device-badge" title="Where models train"><span class="dot {css}"></span>'
            f'<b>{_ui.device_name()}</b><span class="speed">{speed}</span></div>'
            f'<div class="server-load">Runs on this server: {counts["running"]} of {counts["max_running"]}'
            f'{waiting}</div>')
    if rerun_when_done and snap is not None and not snap.active:
        st.rerun()  # the run ended: one full rerun draws its final state and stops the polling


def sidebar(state: _state.AppState, on_train_page: bool) -> None:
    ds = state.dataset
    data_line = f"{state.data.label}" + (f" &middot; {_ui.dataset_summary(ds)}" if ds is not None else "")
    st.html(f'<div class="setup"><div><span>Data</span>{data_line}</div>'
            f'<div><span>Model</span>{state.model_name}</div></div>')
    # on the Train page its live panel does the final rerun; elsewhere the badge does
    period = BADGE_PERIOD_BESIDE_LIVE_PANEL if on_train_page and state.training else BADGE_PERIOD
    st.fragment(run_every=period if state.busy else None)(_badge)(state.training and not on_train_page)


with _ui.frame():
    page.run()
with st.sidebar:  # after the page, so it shows what the page just chose
    sidebar(_state.get(), page.url_path == "train")
