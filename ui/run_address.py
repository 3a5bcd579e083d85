"""A run's address: ``?run=<run store id>`` on the Train page, opened by a reload, another tab or another browser.

The rule (``RULE``, stated on the page): the tab that started a run steers it (its knobs, Stop), also after a
reload, because its address holds the run's secret ``key`` (``?run=...&key=...``); any other page opening the
run's link (``watch_link``: the address without the key) watches it live, read-only: its knobs are shown but
disabled, Stop is hidden, and its own Train starts a run of its own, leaving the watched one alone. A run no
longer kept by the job manager (it ended and was forgotten, or the server restarted) opens from the run
store, finished, with its final loss curve and atoms. No math here: the job and the store hold everything.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from core import datasets, schedule
from core.interop import UPLOAD_PREFIX
from core.jobs import DIVERGED, DONE, STOPPED, Snapshot, get_manager, saving
from core.store import RunStore, StoreError
from ui import knobs, session, share_link, stored_runs, train_runner

RUN_PARAM, KEY_PARAM = "run", "key"
RULE = ("Only the tab that started a run moves its knobs or stops it, also after a reload; anyone opening its "
        "link watches it live, read-only.")


# -- a finished run opened from the run store ----------------------------------------------------------
@dataclass
class StoredRun:
    """A saved run shown on the Train page as a run that has ended: read like a job (``snapshot()``, ``model``),
    never trained or steered."""

    record: Any
    model: Any
    history: list[dict[str, Any]]
    active = False
    live_params: tuple[str, ...] = ()

    @property
    def run_id(self) -> str:
        return self.record.id

    @property
    def state(self) -> str:
        ended = self.record.extra.get("job_state")  # done, stopped or diverged, as the job ended
        return ended if ended in (DONE, STOPPED, DIVERGED) else DONE if self.record.status == "finished" else STOPPED

    @property
    def model_name(self) -> str:
        return self.record.model

    @property
    def image_shape(self):
        return self.record.image_shape

    @property
    def dataset_name(self) -> str:
        return self.record.dataset

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.record.params)

    def snapshot(self, touch: bool = True) -> Snapshot:
        events = schedule.chart_events(self.history)  # its knob changes, marked where its live curve had them
        atoms = np.asarray(self.model.components_, dtype=np.float32)
        # a job id of its own (negative: never a live job's), so caches keyed by it tell stored runs apart
        return Snapshot(job_id=-int(self.record.id[-12:], 16), state=self.state, model_name=self.model_name,
                        dataset_name=self.dataset_name, params=self.params, history=self.history, events=events, atoms=atoms, atoms_version=1,
                        max_steps=int(self.record.params.get("max_steps") or self.record.steps or 1),
                        steps_per_second=0.0, reference_mse=None, metrics=dict(self.record.metrics),
                        error=self.record.extra.get("error"), queue_position=None,
                        image_shape=self.record.image_shape)


@st.cache_resource(show_spinner="Opening the run ...", max_entries=16)
def _stored_run(root: str, run_id: str, updated_at: float, _run_store: RunStore) -> StoredRun:
    """Read once for every page that opens the link: saved weights never change (``updated_at`` keys a re-save)."""
    record = _run_store.get(run_id)
    return StoredRun(record, _run_store.load_model(run_id, device="cpu"), _run_store.load_history(run_id))


# -- opening a link ------------------------------------------------------------------------------------
def _show_settings(state: session.AppState, model_key: str, model_name: str, params: dict[str, Any],
                   record=None) -> None:
    """Set the page's widgets to a run's model and parameters (and its data, when it is a built-in set)."""
    state.model_name = model_name
    st.session_state[model_key] = state.widgets[model_key] = model_name
    state.params[model_name] = {**knobs.defaults(model_name), **params}
    for name, value in params.items():
        if name in knobs.KNOBS:
            st.session_state[train_runner.widget_key(model_name, name)] = knobs.coerce(name, value)
    if record is not None and record.dataset in datasets.available():
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in record.data_options.items()}
        choice = session.DataChoice(record.dataset, options)
        if choice.key != state.data.key:
            state.data, state.dataset, state.data_error = choice, None, None


def _record(run_id: str):
    """The run store's record of ``run_id``, or None (a malformed or unknown id, or no readable store)."""
    run_store = stored_runs.store()
    try:
        return run_store.get(run_id) if run_store is not None else None
    except (StoreError, OSError):
        return None


def attach(state: session.AppState, model_key: str) -> str | None:
    """Open the run of the page's address (``?run=``) in a session that shows no run yet; returns a message
    for the page when the link cannot be opened (an unknown id, a run without weights), else None.

    A live run is taken back (``JobManager.adopt``) when the address holds its key, else watched. Call it
    before the page draws its widgets: they are set to the run's settings."""
    run_id = st.query_params.get(RUN_PARAM)
    if not run_id or state.job is not None:
        return None
    live = get_manager().job_at(run_id)
    if live is not None:
        key = st.query_params.get(KEY_PARAM) or ""
        owner = live.control_key is not None and secrets.compare_digest(key, live.control_key)
        if owner:
            get_manager().adopt(live, state.session_id)
        record = _record(run_id)
        state.job, state.watching = live, not owner
        # what the weights download writes into config.json: the run's id and its data set's options
        state.save_ticket = saving.SaveTicket(record=record, job_id=live.id,
                                              data_options=dict(record.data_options) if record else {})
        _show_settings(state, model_key, live.model_name, live.params, record)
        state.run_config = train_runner._config(state)
        return None
    record = _record(run_id)
    if record is None:
        return (f"No run {run_id!r} on this server: the link may be mistyped or cut short, or the run was "
                "deleted. Press **Train** to start a new run, or open a saved run on Inspect.")
    if not record.has_weights:
        why = ("it is still training in another server process, or was cut off before it was saved"
               if record.status == "running" else f"it ended as '{record.status}' before its weights were saved")
        return f"Run {record.name!r} cannot be shown: {why}. Press **Train** to start a new run."
    run_store = stored_runs.store()
    try:
        stored = _stored_run(str(run_store.root), record.id, record.updated_at, run_store)
    except Exception as error:  # noqa: BLE001 - the store's message (a missing folder), shown in the page
        return f"Run {record.name!r} cannot be opened: {error}"
    state.job, state.watching = stored, True
    state.save_ticket = saving.SaveTicket(record=record, data_options=dict(record.data_options))
    _show_settings(state, model_key, record.model, record.params, record)
    return None


def follow(state: session.AppState) -> None:
    """Keep the address on the session's run: ``?run=<id>``, with ``&key=`` while this session owns it. The key
    stays once the run has ended, so that a reload of the tab that started it is still its owner (not a viewer
    told that the run 'was started in another tab'). Only these two keys are touched (the settings' keys
    belong to ui.share_link)."""
    job = state.job
    run_id = getattr(job, "run_id", None)
    if run_id is None:
        return  # no run yet, or its start is not recorded yet (a few ms): the next rerun sets it
    if st.query_params.get(RUN_PARAM) != run_id:
        st.query_params[RUN_PARAM] = run_id
    owned = not state.watching
    if owned and job.control_key is None:
        job.control_key = secrets.token_urlsafe(12)
    key = job.control_key if owned else None
    if key is not None and st.query_params.get(KEY_PARAM) != key:
        st.query_params[KEY_PARAM] = key
    elif key is None and KEY_PARAM in st.query_params:
        del st.query_params[KEY_PARAM]


def watch_link(state: session.AppState) -> str | None:
    """The link to hand out for the session's run: its address without the key (anyone opening it watches)."""
    run_id = getattr(state.job, "run_id", None)
    if run_id is None:
        return None
    base = st.context.url or ""
    # the setup as this rerun's widgets hold it: the address itself is written only after the page has run, so
    # it still had a live knob's value from before the move that started this rerun
    train_runner.current_params(state)
    return f"{base}?{urlencode({**share_link.setup_query(state), RUN_PARAM: run_id})}"


def read_only(state: session.AppState) -> bool:
    """Whether the page's knobs are locked: it watches another page's run while that run goes."""
    return state.watching and state.training


def settings_moved(state: session.AppState) -> bool:
    """Whether the watched run's live knobs were moved by its owner since this page drew them (the knobs sit
    outside the live panel: it then reruns the whole page to show them)."""
    job = state.job
    if not read_only(state):
        return False
    return any(st.session_state.get(train_runner.widget_key(job.model_name, name)) != knobs.coerce(name, value)
               for name, value in job.params.items() if name in job.live_params and name in knobs.KNOBS)


def mirror(state: session.AppState) -> None:
    """Show the watched run's current live knob values (its owner may have moved them)."""
    if read_only(state):
        job = state.job
        for name in job.live_params:
            if name in job.params and name in knobs.KNOBS:
                st.session_state[train_runner.widget_key(job.model_name, name)] = knobs.coerce(name, job.params[name])


def banner(state: session.AppState) -> None:
    """One line under the Train page's buttons: whose run this is and what this page may do with it."""
    job = state.job
    if job is None:
        return
    if isinstance(job, StoredRun):
        st.info(f"Opened from the run store: **{job.record.name}**, {job.record.status}, with its final loss "
                "curve and atoms. Press **Train** to train it again with these settings.", icon=":material/history:")
    elif state.watching and job.active:
        st.info(f"**Watching** a run started in another tab, live and read-only. {RULE} Press **Train** to "
                "start a run of your own with these settings.", icon=":material/visibility:")
    elif state.watching:
        st.info("This run was started in another tab and has ended. Press **Train** to start a run of your own "
                "with these settings.", icon=":material/visibility:")
    elif (link := watch_link(state)) is not None:
        st.caption(f"Link to watch this run: `{link}` · {RULE}")
    _other_data_note(state)


def _other_data_note(state: session.AppState) -> None:
    """Say so when the run shown trained on other data than the session's: a reloaded page or a link keeps the
    run, but not an uploaded file (its bytes stay in the tab that uploaded it), and Train uses the session's."""
    job = state.job
    if job.dataset_name == state.data.label:
        return
    again = (" To train on it again, upload the file on the Data page." if job.dataset_name.startswith(UPLOAD_PREFIX)
             else "")
    st.info(f"The run shown trained on **{job.dataset_name}**; the data set chosen in this tab is "
            f"**{state.data.label}**, so **Train** trains on that.{again}", icon=":material/dataset:")
