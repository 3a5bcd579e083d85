"""SAE/NMF Explorer: train autoencoders, sparse autoencoders and NMF in the browser and watch them learn.

Run with ``make run`` (``streamlit run app.py``). This script is the frame every page runs in: the
navigation, the shared look, and the sidebar (chosen data set and model, device badge).
"""

from __future__ import annotations

import html

import streamlit as st

from core.jobs import RUNNING, WAITING, TrainingJob, get_manager
from core.jobs.sweep import SweepJob
from ui import data_loading, look, presenter, session, share_link

st.set_page_config(page_title="SAE/NMF Explorer", page_icon=str(look.ICON), layout="wide")
st.logo(str(look.LOGO), size="large")
# The page scripts live in views/: a folder named pages/ next to app.py would start Streamlit in its old
# multipage mode, where a fresh server's first visitor of e.g. /train gets the page without this frame.
page = st.navigation([
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/data.py", title="Data", icon=":material/dataset:", url_path="data"),
    st.Page("views/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("views/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("views/sweep.py", title="Sweep", icon=":material/tune:", url_path="sweep"),
    st.Page("views/inspect.py", title="Inspect", icon=":material/search:", url_path="inspect"),
])
look.apply_style()
get_manager()  # made once per process; starts its warm training worker processes
look.freeze_startup_objects()  # once per process: full garbage collections skip the libraries' objects
BADGE_PERIOD = 1.0  # seconds between two badge refreshes while a run of this session goes
# On the Train page its live panel already redraws the run 2.5 times a second: the badge can be slower there
# (each fragment run costs every open tab a full app re-render in the browser).
BADGE_PERIOD_BESIDE_LIVE_PANEL = 2.0
# While this session runs nothing, the server's count still changes as other sessions start and end runs:
# one refresh every few seconds keeps it true at a fraction of a training tab's redraws (2.5 a second).
BADGE_PERIOD_IDLE = 5.0


def _activity(state: session.AppState) -> tuple[str, str]:
    """What this session's runs (Train's, Compare's, Sweep's) do now, in words, and the dot's class ('on' while
    any trains, 'wait' while they only wait for a slot, else 'off'). Reading them keeps them alive."""
    words, running, waiting = [], False, False
    job = state.job
    snap = job.snapshot() if job is not None else None
    if snap is not None and snap.state == RUNNING:
        words.append(look.speed(snap))
        running = True
    elif snap is not None and snap.state == WAITING:
        words.append("waiting for a slot")
        waiting = True
    compare = [j for j in state.background if isinstance(j, TrainingJob) and j.active]
    sweeps = [j for j in state.background if isinstance(j, SweepJob) and j.active]
    for background in compare + sweeps:  # read here too, so a run goes on while its page is not shown
        background.touch()
    if compare:
        training = sum(j.state == RUNNING for j in compare)
        words.append(f"Compare: {training} training" if training else "Compare: waiting for a slot")
        running, waiting = running or bool(training), waiting or not training
    for sweep in sweeps:
        sweep_snap = sweep.snapshot(touch=False)
        if sweep_snap.state == RUNNING:
            words.append(f"Sweep: {sweep_snap.progress:.0%}")
            running = True
        else:
            words.append("Sweep: waiting for a slot")
            waiting = True
    return " · ".join(words) or "idle", "on" if running else "wait" if waiting else "off"


def _server_load() -> str:
    counts = get_manager().counts()
    waiting = f", {counts['waiting']} waiting" if counts["waiting"] else ""
    sweeps = get_manager().running_of("sweep")
    sweeping = f" · {sweeps} sweep{'s' if sweeps > 1 else ''}" if sweeps else ""
    return f"Runs on this server: {counts['running']} of {counts['max_running']}{waiting}{sweeping}"


def _badge(rerun_when_done: bool) -> None:
    """Device, what this session's runs do, and the server's load; while runs go this also keeps their
    heartbeats alive on every page."""
    state = session.get()
    activity, css = _activity(state)
    st.html(f'<div class="device-badge" title="Where models train"><span class="dot {css}"></span>'
            f'<b>{look.device_name()}</b><span class="speed">{activity}</span></div>'
            f'<div class="server-load">{_server_load()}</div>')
    if rerun_when_done and not state.busy:
        st.rerun()  # this session's runs ended: one full rerun draws their final state and slows the polling


def sidebar(state: session.AppState, on_train_page: bool) -> None:
    ds = state.dataset
    # escaped: an uploaded file's name is the user's text, not markup
    data_line = html.escape(state.data.label) + (f" &middot; {html.escape(data_loading.dataset_summary(ds))}"
                                                 if ds is not None else "")
    st.html(f'<div class="setup"><div><span>Data</span>{data_line}</div>'
            f'<div><span>Model</span>{html.escape(state.model_name)}</div></div>')
    if not state.busy:
        period = BADGE_PERIOD_IDLE
    elif on_train_page and state.training:
        period = BADGE_PERIOD_BESIDE_LIVE_PANEL
    else:
        period = BADGE_PERIOD
    # on the Train page its live panel does the final rerun of its run; elsewhere the badge does
    st.fragment(run_every=period)(_badge)(state.busy and not (on_train_page and state.training))


share_link.open_link(page.url_path)  # a new session (a shared link, a reload) is set up from its address
with st.sidebar:
    setup_box = st.container()  # filled after the page, so it shows what the page just chose
    presenter.toggle()
presenter.apply_style()
page.run()
with setup_box:
    sidebar(session.get(), page.url_path == "train")
share_link.write(session.get())  # the address follows what the page just chose
