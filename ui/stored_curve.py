"""A saved run's training curve, drawn as the Train page drew it live (``ui.train_live.loss_chart``): the
chosen metric by step with the knob changes made during the run marked on it, and those changes listed
(step, knob, from, to: ``core.schedule``, the schedule ``python -m core train --config`` replays)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import schedule
from core.store import RunStore
from ui import knobs, run_address, session, train_live

CURVE_KEY = "inspect:curve"


@st.cache_data(show_spinner=False, max_entries=16)
def _history(root: str, run_id: str, updated_at: float, _run_store: RunStore) -> list[dict[str, Any]]:
    """A saved run's history, read once per saved version (``updated_at`` keys a re-save)."""
    return _run_store.load_history(run_id)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def changes_table(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A schedule as rows in the sliders' words: the step it first trained, the knob, its value before and after."""
    return [{"Step": change["step"], "Knob": knobs.short_label(change["param"]), "From": _shown(change["old"]),
             "To": _shown(change["new"])} for change in changes]


def training_curve(run_store: RunStore, run) -> None:
    """The loss curve of ``run`` (a ``ui.stored_runs.LoadedRun``) with its knob changes, and their table."""
    record = run.record
    history = _history(str(run_store.root), record.id, record.updated_at, run_store)
    if len(history) < 2:
        st.info(f"{record.model} logged no training curve: it was fitted in one step (closed form).")
        return
    available = [name for name, column in train_live.CURVES.items() if column in history[-1]]
    if st.session_state.get(CURVE_KEY) not in available:
        st.session_state[CURVE_KEY] = session.get().widgets.get(CURVE_KEY, available[0])
        if st.session_state[CURVE_KEY] not in available:
            st.session_state[CURVE_KEY] = available[0]
    curve = st.segmented_control("Curve", available, key=CURVE_KEY, required=True, label_visibility="collapsed")
    session.remember(CURVE_KEY)
    option, described = train_live.loss_chart(run_address.StoredRun(record, run.model, history).snapshot(), curve)
    st.echarts_chart(option, key="inspect:curve-chart", height=320, alt=described)
    changes = schedule.schedule_of(history)
    if not changes:
        st.caption("No knob was moved during this run: it trained with the settings it started with.")
        return
    st.caption("Knobs moved during the run, each first used at the step shown (the dotted lines mark them at "
               "the next logged step). To replay the run, download its weights under **Export** and run "
               "`python -m core train --config <the .zip>`.")
    st.dataframe(changes_table(changes), hide_index=True, width="content")
