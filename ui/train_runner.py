"""Starting runs and keeping a running one in step with the widgets (live knobs, or a new run).

Moving a live knob (k, L1 weight, learning rate, noise level, ...) during a run changes that run at
once (``TrainingJob.update``, recorded on the loss curve). Changing anything else while a run goes
(the model, the data set, the number of atoms, ...) starts a new run with the new settings.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import budget, models
from core.jobs import saving
from ui import data_loading, knobs, session


#: session key of a slow run waiting for confirmation: (its settings, the warning)
SLOW_RUN_KEY = "train:slow-run"


def _config(state: session.AppState) -> tuple:
    """What defines a run apart from its live knobs: a change means a new run."""
    live = knobs.live_params(state.model_name)
    params = state.params.get(state.model_name, {})
    fixed = tuple(sorted((k, repr(v)) for k, v in params.items() if k not in live))
    return state.data.key, state.model_name, fixed


def widget_key(model_name: str, param: str) -> str:
    return f"param:{model_name}:{param}"


def current_params(state: session.AppState) -> dict[str, Any]:
    """The chosen model's parameters: its defaults, overlaid with the values its widgets hold now."""
    if state.model_name not in state.params:
        state.params[state.model_name] = knobs.defaults(state.model_name)
    params = state.params[state.model_name]
    for name in params:
        key = widget_key(state.model_name, name)
        if key in st.session_state:
            params[name] = st.session_state[key]
    return params


def changed_from_defaults(state: session.AppState) -> dict[str, Any]:
    """The chosen model's shown knobs whose values differ from the defaults (they carry over between runs)."""
    params, defaults = current_params(state), knobs.defaults(state.model_name)
    return {name: params[name] for name in knobs.shown(state.model_name)
            if name in params and params[name] != knobs.coerce(name, defaults.get(name))}


def reset_to_defaults(state: session.AppState) -> None:
    """Set the chosen model's knobs back to their defaults (call before the widgets are drawn: a callback)."""
    defaults = knobs.defaults(state.model_name)
    state.params[state.model_name] = dict(defaults)
    for name in knobs.shown(state.model_name):
        st.session_state[widget_key(state.model_name, name)] = knobs.coerce(name, defaults[name])


def start(state: session.AppState, confirmed: bool = False) -> str | None:
    """Start a run of the chosen model on the chosen data; returns an error message, or None.

    A run too large for the memory limit is refused (core.budget's message); a slow one does not start
    unless ``confirmed``: it waits for the "Train anyway" of ``pending_slow_run`` instead."""
    st.session_state.pop(SLOW_RUN_KEY, None)
    ds = data_loading.current_dataset()
    if ds is None:
        return state.data_error or "No data set is loaded: choose one on the Data page."
    params = dict(current_params(state))
    try:
        model = models.create(state.model_name, **params)
        model.check_params(ds.X.shape[1])  # refused now, not seconds later in the worker
        models.check_sign([state.model_name], ds.non_negative, state.data.label,
                          f"{data_loading.sign_fix(state.data)}, or pick a model that accepts signed data.")
        cost = budget.estimate_model(model, ds.n_samples, ds.n_features, state.model_name)
    except Exception as exc:  # noqa: BLE001 - core's message, shown in the page
        return str(exc)
    if not cost.fits:
        return cost.refusal()
    if cost.slow and not confirmed:
        st.session_state[SLOW_RUN_KEY] = (_config(state), cost.warning())
        return None
    job = state.start_job(model, ds.X, model_name=state.model_name, dataset_name=state.data.label,
                          params=params, image_shape=ds.image_shape)
    # every finished or stopped run lands in the run store, for Compare and Inspect
    state.save_ticket = saving.save_when_done(job, dataset=state.data.label,
                                                data_options=dict(state.data.options))
    state.run_config = _config(state)
    return None


def cost_note(state: session.AppState, ds) -> tuple[str, str] | None:
    """("refused" or "slow", core.budget's words) for training the chosen model, as set, on ``ds``; None
    when such a run fits and is quick (or the model's settings are refused anyway, on the Train page)."""
    try:
        model = models.create(state.model_name, **current_params(state))
        cost = budget.estimate_model(model, ds.n_samples, ds.n_features, state.model_name)
    except Exception:  # noqa: BLE001 - the Train page says what is wrong with the settings
        return None
    if not cost.fits:
        return "refused", cost.refusal()
    return ("slow", cost.warning()) if cost.slow else None


def pending_slow_run(state: session.AppState) -> str | None:
    """The warning of a slow run that waits for "Train anyway", while the settings are still those it was for."""
    pending = st.session_state.get(SLOW_RUN_KEY)
    return pending[1] if pending is not None and pending[0] == _config(state) else None


def sync(state: session.AppState) -> tuple[dict[str, Any], bool]:
    """Bring a running job in line with the widgets: returns (live changes applied, restarted)."""
    job = state.job
    if job is None or not job.active or state.watching:  # a watched run is steered by its own page only
        return {}, False
    if state.run_config != _config(state):
        job.stop()
        state.train_error = start(state)
        return {}, state.train_error is None
    params = current_params(state)
    changes = {k: params[k] for k in job.live_params if k in params and job.params.get(k) != params[k]}
    return (job.update(**changes) if changes else {}), False
