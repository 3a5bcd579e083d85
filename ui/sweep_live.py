"""The Sweep page's state, its Start/Stop callbacks, the live progress fragment, and the frontier figure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from core import budget, models
from core.jobs import RUNNING, get_manager
from core.jobs.sweep import SweepJob
from ui import data_loading, knobs, look, session, stored_runs, typed_input

PERIOD = 0.5
_KEY = "_sweep_page"
PARAMS = {"k": "k (TopK active codes)", "l1_coef": "L1 weight", "n_components": "n_components (atoms)",
          "sparsity_target": "rho (KL sparsity target)"}
COLORS = ["#e15759", "#4e79a7", "#59a14f", "#b07aa1", "#f28e2b", "#76b7b2", "#edc948"]
STATE_WORDS = {**look.STATE_WORDS, RUNNING: "Sweeping"}


@dataclass
class SweepPage:
    job: SweepJob | None = None
    error: str | None = None


def get() -> SweepPage:
    if _KEY not in st.session_state:
        st.session_state[_KEY] = SweepPage()
    return st.session_state[_KEY]


def candidates(param: str) -> list[str]:
    """Models that have ``param``, batched ones first."""
    names = [m for m in models.available() if param in models.default_params(m)]
    batched = models.batchable()
    return sorted(names, key=lambda m: (m not in batched, names.index(m)))


def base_params(model_name: str, param: str, n_components: int, steps: int) -> dict[str, Any]:
    return knobs.sized(model_name, None if param == "n_components" else n_components, steps)


def start() -> None:
    """Start button callback: read the widgets, build the sweep (errors shown in the page), start it."""
    page, app, ss = get(), session.get(), st.session_state
    if page.job is not None and page.job.snapshot(touch=False).active:
        page.job.stop()
    page.error = None
    param = ss.get("sweep:param", "k")
    chosen = ss.get(f"sweep:models:{param}") or []
    ds = data_loading.current_dataset()
    try:
        if ds is None:
            raise ValueError(app.data_error or "No data set is loaded: choose one on the Data page.")
        if not chosen:
            raise ValueError("Pick at least one model to sweep.")
        values = typed_input.parse_values(ss.get(f"sweep:values:{param}", ""), param)
        models.check_sign(chosen, ds.non_negative, app.data.label,
                          "on the Data page choose scale = minmax, or drop those models.")
        n, steps = int(ss.get("sweep:n", 32)), int(ss.get("sweep:steps", 500))
        job = SweepJob(
            ds.X, models_=chosen, param=param, values=values,
            base_params={m: base_params(m, param, n, steps) for m in chosen}, store=stored_runs.store(),
            dataset=app.data.label, data_options=dict(app.data.options), image_shape=ds.image_shape,
            references=bool(ss.get("sweep:refs", True)))
        budget.check_fits([(models.create(sweep.config.model, **point.params), sweep.config.model)
                           for sweep in job.sweeps for point in sweep.points], ds.n_samples, ds.n_features)
    except Exception as error:  # noqa: BLE001 - core's message, shown in the page
        page.error = str(error)
        return
    page.job = get_manager().submit_job(f"{app.session_id}:sweep", job)  # a slot, the timeout, Stop
    app.keep_alive(page.job)  # on another page meanwhile, the sidebar keeps it going


def stop() -> None:
    page = get()
    if page.job is not None:
        page.job.stop()


def _progress(polling: bool) -> None:
    page = get()
    snap = page.job.snapshot()
    word = STATE_WORDS.get(snap.state, snap.state)
    message = "" if snap.message.rstrip(".") == word else f" · {snap.message}"
    st.progress(snap.progress, text=f"**{word}**{message} · {len(snap.records)} runs saved · "
                                    f"{snap.seconds:,.1f} s")
    for note in snap.notes:
        st.caption(note)
    if snap.error:
        st.error(snap.error)
    if polling and not snap.active:
        st.rerun()  # the sweep ended: one full rerun shows its runs in the plot and the table


def live_panel() -> None:
    page = get()
    if page.job is None:
        return
    polling = page.job.snapshot(touch=False).active
    st.fragment(run_every=PERIOD if polling else None)(_progress)(polling)


def frontier_figure(rows: list[dict[str, Any]], references: list[dict[str, Any]]) -> go.Figure:
    """L0 (x) against FVU (y): one line per model of the swept runs, PCA and NMF reference points.

    Each point's hover label shows its model, value and metrics; its ``customdata`` is the run id (a click
    shows that run's atoms beside the plot: a hover label cannot hold a picture).
    """
    fig = go.Figure()
    for index, model_name in enumerate(dict.fromkeys(row["model"] for row in rows)):
        points = sorted((r for r in rows if r["model"] == model_name and r.get("l0") is not None),
                        key=lambda r: r["l0"])
        fig.add_trace(go.Scatter(
            x=[p["l0"] for p in points], y=[p["fvu"] for p in points], mode="lines+markers", name=model_name,
            marker={"size": 10, "color": COLORS[index % len(COLORS)]}, line={"width": 1.5},
            customdata=[p["run_id"] for p in points],
            hovertext=[f"<b>{model_name}</b> {p['param']} = {p['value']}<br>L0 {p['l0']:.2f} · FVU {p['fvu']:.4f}"
                       "<br><i>click to show its atoms</i>" for p in points],
            hoverinfo="text"))
    for ref_model, symbol, color in (("pca", "diamond", "#111827"), ("nmf", "star", "#6b7280")):
        refs = [r for r in references if r["model"] == ref_model]
        if refs:
            fig.add_trace(go.Scatter(
                x=[r["l0"] for r in refs], y=[r["fvu"] for r in refs], mode="markers+text", name=f"{ref_model.upper()} "
                "(same rank)", marker={"symbol": symbol, "size": 13, "color": color},
                text=[f"{ref_model.upper()} {r['n_components']}" for r in refs], textposition="top center",
                hovertext=[f"<b>{ref_model.upper()}</b> rank {r['n_components']}<br>L0 {r['l0']:.2f} · "
                           f"FVU {r['fvu']:.4f}" for r in refs], hoverinfo="text"))
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      xaxis={"title": "L0 (active codes per sample)", "rangemode": "tozero"},
                      yaxis={"title": "FVU (fraction of variance unexplained)", "rangemode": "tozero"},
                      legend={"orientation": "h", "y": 1.08}, clickmode="event+select")
    return fig
