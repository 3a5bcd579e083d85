"""Train: pick a model, set its knobs, press Train and watch the loss curve and the atoms live."""

from __future__ import annotations

import time

import streamlit as st

from core import models, render
from core.jobs import WAITING
from ui import (data_loading, downloads, knobs, lessons, presenter, run_address, session, share_link, theory,
                train_live, train_runner)

state = session.get()
MODEL_KEY = "train:model"


def _on_model_change() -> None:
    state.model_name = st.session_state[MODEL_KEY]
    state.train_error = None


def _on_train() -> None:
    """Runs before the script, so this very rerun already draws the new run (and an enabled Stop)."""
    _on_model_change()
    state.train_error = train_runner.start(state)


def _on_stop() -> None:
    state.stop_job()


def _on_reset() -> None:
    train_runner.reset_to_defaults(state)


st.header("Train")
link_problem = run_address.attach(state, MODEL_KEY)  # a run's link (?run=): a reload, another tab, a saved run
run_address.mirror(state)
locked = run_address.read_only(state)  # watching another tab's run while it goes: its knobs are not ours
lessons.lesson_box("train")
names = models.available()
session.persist(MODEL_KEY, state.model_name if state.model_name in names else names[0])
# one row that wraps: on a narrow screen (a projector's 1024 px) the buttons keep their whole labels and move
# to the next line instead of shrinking to an icon
top = st.container(horizontal=True, vertical_alignment="bottom")
top.selectbox("Model", names, key=MODEL_KEY, on_change=_on_model_change, width=230,
              format_func=lambda n: f"{n}", help="Every model of core.models.", disabled=locked)
session.remember(MODEL_KEY)
state.model_name = st.session_state[MODEL_KEY]
ds = data_loading.current_dataset()
top.button("Train", type="primary", icon=":material/play_arrow:", on_click=_on_train,
           disabled=ds is None, help="Start a new run with these settings (a running one is replaced)."
           if ds is not None else "No data set is loaded: the message below says why.")
if not state.watching:  # only the page that started a run may stop it
    top.button("Stop", icon=":material/stop:", disabled=not state.training, on_click=_on_stop)
# filled at the end of the page, once the knobs below have given this run's values
share_box = top.popover("Copy link", icon=":material/link:",
                        help="The address of this setup: data set, model and settings.")
if not presenter.on():  # a projector keeps the live panel in a 720 px window; the model is named above
    st.caption(models.describe(state.model_name))
if link_problem:
    st.warning(link_problem, icon=":material/link_off:")
run_address.banner(state)

if ds is None:
    st.error(state.data_error or "No data set is loaded: choose one on the Data page.")
if state.train_error:
    st.error(state.train_error)

# -- the knobs, built from default_params + the one table in ui/knobs.py ---------------------------
params = train_runner.current_params(state)
live = knobs.live_params(state.model_name)
shown = knobs.shown(state.model_name)
knob_column, panel = st.columns(presenter.knobs_panel_widths((1, 2)), gap="large")


def _draw(param_names: list[str]) -> None:
    for name in param_names:
        key = train_runner.widget_key(state.model_name, name)
        params[name] = knobs.widget(name, key, params[name], live=name in live, disabled=locked)


with knob_column:
    live_shown = [p for p in shown if p in live and knobs.KNOBS[p].basic]
    if live_shown:
        st.markdown("**Live knobs**", help="Moving these while a run goes changes that run at once; "
                                           "the change is marked on the loss curve.")
        _draw(live_shown)
    st.markdown("**Run settings**", help="Changing these while a run goes starts a new run.")
    _draw([p for p in shown if p not in live and knobs.KNOBS[p].basic])
    more = [p for p in shown if not knobs.KNOBS[p].basic]
    if more and not presenter.on():  # a projector shows the basic knobs only
        with st.expander("More settings"):
            _draw(more)
    moved = train_runner.changed_from_defaults(state)
    st.button("Reset to defaults", icon=":material/restart_alt:", on_click=_on_reset, disabled=locked or not moved,
              help=(f"Knobs keep their values from run to run. Moved now: {knobs.change_text(moved)}."
                    if moved else "Every knob of this model is at its default."))

# -- a running run follows the knobs: live ones change it, the others start a new run -------------
if state.training:
    applied, restarted = train_runner.sync(state)
    if applied:
        st.toast("Applied to the running run: " + knobs.change_text(applied))
    if restarted:
        st.toast("Settings changed: a new run started.")
run_address.follow(state)  # the address names the run now shown (?run=), with its key while this page steers it

with panel:
    train_live.live_panel()

    # -- downloads: the grid's look also drives the live grid -------------------------------------
    st.markdown("**Atom grid and weights**")
    grid_controls = st.columns(3)
    grid_controls[0].number_input("Columns", 0, 64, key=session.persist("grid:columns", 0),
                         help="Atoms per row; 0 = automatic (square grid).")
    downloads.grid_scale_slider("grid:scale", grid_controls[1])
    grid_controls[2].selectbox("Colour map", render.CMAPS, key=session.persist("grid:cmap", "auto"),
                      help="auto: diverging for signed atoms, else gray.")
    session.remember("grid:columns", "grid:scale", "grid:cmap")
    job = state.job

    # read now: the download's callable runs outside the script (no session state)
    grid_look = train_live.grid_options()

    def _grid_png() -> bytes:  # the latest atoms, when clicked (mid-run too)
        deadline = time.monotonic() + 10  # clicked as the run starts: its first atoms come within a second
        while (snap := job.snapshot()).atoms is None and snap.active and time.monotonic() < deadline:
            time.sleep(0.1)
        picture = train_live.atoms_picture(snap, grid_look)
        return render.png_bytes(picture) if picture is not None else b""

    ticket = state.save_ticket

    def _weights() -> bytes:  # config.json as the run store keeps it: replayable by `python -m core train --config`
        from core.jobs import saving

        return saving.export_bytes(job, ticket)

    name = downloads.file_stem(job.model_name, job.dataset_name) if job is not None else "atoms"
    # Drawn outside the polling panel (a widget there costs every tick): ready from the run's start, it
    # takes the atoms of the moment it is clicked. A run that waited in line gets it at its end.
    drawable = job is not None and job.state != WAITING  # (no snapshot: it would copy the run's history)
    fitted = job is not None and not job.active and hasattr(job.model, "components_")
    buttons = st.container(horizontal=True)  # side by side where they fit, else one above the other
    buttons.download_button("Download atom grid (PNG)", _grid_png, file_name=f"{name}-atoms.png",
                            mime="image/png", disabled=not drawable, on_click="ignore", icon=":material/image:")
    buttons.download_button("Download weights (safetensors)", _weights, file_name=f"{name}-weights.zip",
                            mime="application/zip", disabled=not fitted, on_click="ignore",
                            icon=":material/download:", help="A zip with weights.safetensors and config.json "
                            "(core.checkpoint); ready when the run has ended.")
    if job is not None and job.model_name in models.sae_models():  # the SAE in SAELens' and sparsify's layouts
        downloads.job_sae_format_buttons(job, state.data, name, key="train:sae-formats", disabled=not fitted)
    if job is not None and not job.active and ticket is not None and ticket.error:
        st.warning(f"{ticket.error} The run is not in the run store (Compare and Inspect will not list it); "
                   "download its weights above to keep them.", icon=":material/save:")

if not presenter.on():
    theory.theory_panel(state.model_name)
with share_box:
    share_link.copy_link_box(state)
