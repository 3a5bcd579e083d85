"""The live panel of the Train page: it only copies the job's snapshot and draws it.

Drawn by ``st.fragment(run_every=PERIOD)`` while a run is going, so only this panel reruns (2.5
times a second); once the run ends, one full rerun draws the final state and the polling stops.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core import render
from core.jobs import DIVERGED, RUNNING, WAITING, Snapshot, get_manager
from pages import _export, _state, _ui

PERIOD = 0.4  # seconds between two redraws while training: 2.5 a second (the target is at least 2)
CURVES = {"MSE": "mse", "Loss": "loss", "L0": "l0", "Dead fraction": "dead_fraction"}
CURVE_KEY = "live:curve"
CURVE_POINTS = 400  # the live curve is drawn from at most this many points (render.thin_curve)


def grid_options() -> dict:
    """The atom grid's look (chosen under Download; the live grid uses the same)."""
    ss = st.session_state
    return {"columns": ss.get("grid:columns") or None, "scale": int(ss.get("grid:scale", 4)),
            "cmap": ss.get("grid:cmap", "auto")}


# The atoms change a few times a second at most, the panel redraws 2.5 times a second: draw each version once.
_PICTURES = _export.RecentResults(kept=32)


def atoms_picture(snap: Snapshot, **options):
    """The atom grid of a snapshot as a PIL image (core.render), or None before the first atoms."""
    if snap is None or snap.atoms is None:
        return None
    opts = {**grid_options(), **options}
    key = (snap.job_id, snap.atoms_version, opts["columns"], opts["scale"], opts["cmap"])
    return _PICTURES.get(key, lambda: render.atom_grid(snap.atoms, snap.image_shape, columns=opts["columns"],
                                                        scale=opts["scale"], cmap=opts["cmap"]))


def loss_figure(snap: Snapshot | None, curve: str) -> go.Figure:
    """The loss curve: the chosen metric per step, the PCA error as a reference, live changes marked.

    Built in one pass (traces, shapes and annotations handed to the constructor): plotly validates every
    ``add_hline`` / ``update_layout`` call on its own, and that made this figure cost 16 ms instead of 2,
    twice a second per open tab, in the server's one interpreter."""
    column = CURVES[curve]
    rows = [r for r in (snap.history if snap else []) if column in r]
    shapes, notes = [], []
    if snap is not None and snap.reference_mse is not None and column in ("mse", "loss"):
        y = snap.reference_mse
        shapes.append({"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": y, "y1": y,
                       "line": {"dash": "dash", "color": "#4e79a7", "width": 1.5}})
        notes.append({"text": f"PCA error, rank {snap.params.get('n_components')}", "xref": "x domain", "x": 1,
                      "yref": "y", "y": y, "xanchor": "right", "yanchor": "bottom", "showarrow": False,
                      "font": {"color": "#4e79a7"}})
    for step, change in (snap.events if snap else []):
        text = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in change.items())
        shapes.append({"type": "line", "xref": "x", "x0": step, "x1": step, "yref": "y domain", "y0": 0, "y1": 1,
                       "line": {"dash": "dot", "color": "#6b7280", "width": 1}})
        notes.append({"text": text, "x": step, "y": 1, "yref": "paper", "showarrow": False, "xanchor": "left",
                      "yanchor": "top", "font": {"size": 11, "color": "#374151"}, "bgcolor": "rgba(255,255,255,0.8)"})
    # the x axis follows the run (its last step plus a margin), so early points are not squeezed
    step = snap.step if snap else 0
    span = step * 1.08 if snap is not None and snap.active else step
    layout = {"height": 320, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "showlegend": False,
              "xaxis": {"title": {"text": "step"}, "range": [0, max(span, 10)]},
              "yaxis": {"title": {"text": curve}, "rangemode": "tozero"}, "uirevision": "keep",
              "shapes": shapes, "annotations": notes}
    steps, values = render.thin_curve([r["step"] for r in rows], [r[column] for r in rows], CURVE_POINTS)
    trace = go.Scatter(x=steps, y=values, mode="lines", name=curve, line={"color": "#e15759", "width": 2})
    return go.Figure(data=[trace], layout=layout)


def _status(snap: Snapshot | None) -> None:
    if snap is None:
        st.progress(0.0, text="Ready: press **Train**.")
        return
    if snap.state == WAITING:
        counts = get_manager().counts()
        going = "1 run is" if counts["running"] == 1 else f"{counts['running']} runs are"
        st.progress(0.0, text=f"Waiting for a free training slot: {going} going on this server (at most "
                              f"{counts['max_running']}); you are number {snap.queue_position} in line.")
        return
    label = _ui.STATE_WORDS[snap.state]
    rate = f" · {snap.steps_per_second:,.0f} steps/s" if snap.state == RUNNING else ""
    st.progress(snap.progress, text=f"**{label}** {snap.model_name} on {snap.dataset_name} · "
                                    f"step {snap.step:,} / {snap.max_steps:,}{rate}")
    if snap.error:
        st.error(snap.error + (" The atoms shown are the last good ones." if snap.state == DIVERGED else ""))


def _metrics(snap: Snapshot | None) -> None:
    last = snap.last if snap else {}
    final = snap.metrics if snap else {}
    reference = snap.reference_mse if snap else None
    cells = [("MSE", final.get("mse", last.get("mse")), "{:.4g}", "Mean squared reconstruction error."),
             ("PCA error", reference, "{:.4g}", "The error of PCA with as many components: the floor of any "
                                               "linear model of this size (0 when there are as many atoms "
                                               "as features)."),
             ("L0 (codes per sample)", final.get("l0", last.get("l0")), "{:.1f}", "Mean active codes per sample."),
             ("Dead atoms", final.get("dead_fraction", last.get("dead_fraction")), "{:.0%}",
              "Atoms that did not fire on any sample lately.")]
    for col, (label, value, fmt, help_text) in zip(st.columns(len(cells)), cells):
        col.metric(label, "–" if value is None else fmt.format(value), help=help_text)


def _body(snap: Snapshot | None) -> None:
    """Everything under the status line: the metrics, the loss curve and the atom grid."""
    _metrics(snap)
    curve_col, atoms_col = st.columns([1.45, 1], gap="medium")
    with curve_col:
        available = [name for name, col in CURVES.items() if not snap or not snap.history or col in snap.last]
        if st.session_state.get(CURVE_KEY) not in available:
            st.session_state[CURVE_KEY] = "MSE"
        curve = st.segmented_control("Curve", available, key=CURVE_KEY, required=True,
                                     label_visibility="collapsed")
        st.plotly_chart(loss_figure(snap, curve), key="live:loss", config={"displayModeBar": False})
    with atoms_col:
        picture = atoms_picture(snap)
        if picture is None:
            st.caption("The learned atoms appear here as soon as the run starts.")
        else:
            st.image(picture, caption=f"{len(snap.atoms)} atoms (decoder rows), version {snap.atoms_version}",
                     width="stretch" if picture.width > 200 else "content")


def panel(polling: bool) -> None:
    """The fragment: snapshot under the job's lock, then draw. A queued run shows only its place in line
    (redrawing unchanging metrics, curve and grid 2.5 times a second cost each waiting tab a fifth of a
    core in the browser, and a classroom's tabs mostly wait); the same fragment draws them once it starts."""
    job = _state.get().job
    snap = job.snapshot() if job is not None else None
    _status(snap)
    if snap is not None and snap.state == WAITING:
        st.caption("The loss curve and the atoms appear here as soon as the run starts.")
    else:
        _body(snap)
    if polling and (snap is None or not snap.active):
        st.rerun()  # the run ended: one full rerun draws the final state and stops the polling


def live_panel() -> None:
    polling = _state.get().training
    st.fragment(run_every=PERIOD if polling else None)(panel)(polling)
