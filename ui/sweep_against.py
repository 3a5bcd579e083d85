"""Stored runs outside a sweep drawn beside it on the Sweep page (issue 22: an imported SAE can be swept
against): the picker of the store's runs on the sweep's data, each measured on that data as the trials are
(``core.analysis.frontier.measured_beside``), cached (saved weights never change)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.analysis import frontier
from ui import session, stored_runs


def candidates(runs: list, records: list) -> list:
    """Saved runs that are no sweep's trial, on the data set of the sweep's ``records`` and of its width."""
    first = records[0]
    return [r for r in runs if not r.sweep and r.dataset == first.dataset and r.n_features == first.n_features]


@st.cache_data(show_spinner="Measuring the runs beside the sweep on its data ...", max_entries=64)
def _measured(root: str, run_id: str, updated_at: float, data: str, _record, _run_store, _dataset) -> dict:
    model = _run_store.load_model(run_id, device="cpu")
    return frontier.measured_beside(_record, model, _dataset.X)


def label(row: dict[str, Any]) -> str:
    """A run beside the sweep in a legend or picker: its name, marked as not a trial."""
    return f"{row['name']} (beside)"


def pick(run_store, runs: list, records: list) -> list[dict[str, Any]]:
    """The multiselect of runs to draw beside the sweep, and their rows measured on the sweep's data (a run that
    cannot be measured says why and is left out)."""
    offered = candidates(runs, records)
    if not offered:
        st.caption(f"No other saved run on {records[0].dataset} to draw beside the sweep: a Train run, or an SAE "
                   "imported with `python -m core import PATH --dataset " + records[0].dataset + "`, would be offered.")
        return []
    by_id = {r.id: r for r in offered}
    key = session.persist_choice("sweep:against", list(by_id), [])
    chosen = st.multiselect("Draw beside the sweep", list(by_id), key=key,
                            format_func=lambda i: stored_runs.run_label(by_id[i]),
                            help="Saved runs on the same data that are not trials of a sweep (an imported SAELens "
                                 "or sparsify SAE, a Train run): each is measured on the sweep's data as the trials "
                                 "are, and drawn as a labelled point on the frontier and a line in the parallel "
                                 "coordinates.")
    session.remember(key)
    rows = []
    if not chosen:
        return rows
    try:
        dataset = stored_runs.dataset_of(records[0])
    except Exception as error:  # noqa: BLE001 - the sweep's data cannot be loaded: nothing to measure on
        st.warning(f"The runs beside the sweep cannot be measured: {error}")
        return rows
    for run_id in chosen:
        record = by_id[run_id]
        try:
            rows.append(_measured(str(run_store.root), run_id, record.updated_at, stored_runs.data_key(records[0]),
                                  record, run_store, dataset))
        except Exception as error:  # noqa: BLE001 - the store's or core's message
            st.warning(f"{record.name} cannot be drawn beside the sweep: {error}")
    return rows
