"""The live panel of the Train page: it only copies the job's snapshot and draws it.

Drawn by ``st.fragment(run_every=PERIOD)`` while a run is going, so only this panel reruns (2.5
times a second); once the run ends, one full rerun draws the final state and the polling stops.
"""

from __future__ import annotations

import math

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


def atoms_picture(snap: Snapshot, options: dict | None = None):
    """The atom grid of a snapshot as a PIL image (core.render), or None before the first atoms. ``options``:
    the grid's look (``grid_options()`` of the script run; a download's callable runs outside one)."""
    if snap is None or snap.atoms is None:
        return None
    opts = options if options is not None else grid_options()
    key = (snap.job_id, snap.atoms_version, opts["columns"], opts["scale"], opts["cmap"])
    return _PICTURES.get(key, lambda: render.atom_grid(snap.atoms, snap.image_shape, columns=opts["columns"],
                                                        scale=opts["scale"], cmap=opts["cmap"]))


def _change_text(change: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in change.items())


def loss_chart(snap: Snapshot | None, curve: str) -> tuple[dict, str]:
    """The loss curve as an ECharts option, and its text description (the chart's accessible name): the
    chosen metric per step, the PCA error as a dashed reference, live changes as dotted marks.

    ECharts, not Plotly: this chart is redrawn 2.5 times a second in every tab that trains, and Plotly's
    SVG redraw (text measured in the page's layout on each update) cost a tab 0.2 of a core; ECharts draws
    on a canvas for a fraction of that (bench/RESULTS.md)."""
    column = CURVES[curve]
    rows = [r for r in (snap.history if snap else []) if column in r]
    marks, notes = [], []
    if snap is not None and snap.reference_mse is not None and column in ("mse", "loss"):
        name = f"PCA error, rank {snap.params.get('n_components')}"
        marks.append({"name": name, "yAxis": float(snap.reference_mse),
                      "lineStyle": {"type": "dashed", "color": "#4e79a7", "width": 1.5},
                      "label": {"formatter": "{b}", "position": "insideEndTop", "color": "#4e79a7"}})
        notes.append(f"{name} dashed")
    changes = [_change_text(change) for _, change in (snap.events if snap else [])]
    for (step, _), text in zip(snap.events if snap else [], changes):
        marks.append({"name": text, "xAxis": step, "lineStyle": {"type": "dotted", "color": "#6b7280", "width": 1},
                      "label": {"formatter": "{b}", "position": "end", "color": "#374151", "fontSize": 11}})
    if changes:
        notes.append("changes marked: " + "; ".join(changes))
    # the x axis follows the run (its last step plus a margin), so early points are not squeezed
    step = snap.step if snap else 0
    span = step * 1.08 if snap is not None and snap.active else step
    steps, values = render.thin_curve([r["step"] for r in rows], [r[column] for r in rows], CURVE_POINTS)
    # a diverging run logs NaN or inf: a gap in the line (ECharts' null), as the option must be strict JSON
    points = [[int(x), float(y) if math.isfinite(y) else None] for x, y in zip(steps, values)]
    option = {
        "animation": False,
        # ECharts 6 keeps the axis labels and names inside these margins (its outerBounds): small ones do
        "grid": {"left": 6, "right": 14, "top": 22, "bottom": 4},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "value", "name": "step", "nameLocation": "middle", "nameGap": 28, "min": 0,
                  "max": max(span, 10), "axisLabel": {"showMaxLabel": not (snap and snap.active)}},
        "yAxis": {"type": "value", "name": curve, "nameLocation": "middle", "nameGap": 44, "min": 0},
        "series": [{"type": "line", "name": curve, "showSymbol": False, "data": points,
                    "lineStyle": {"color": "#e15759", "width": 2}, "itemStyle": {"color": "#e15759"},
                    "markLine": {"silent": True, "symbol": "none", "data": marks}}],
    }
    last = f", the last at step {rows[-1]['step']}: {rows[-1][column]:.4g}" if rows else ""
    described = f"{curve} by training step: {len(rows)} logged points{last}"
    return option, "; ".join([described, *notes]) + "."


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
    rate = f" · {_ui.speed(snap)}" if snap.state == RUNNING else ""
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
        option, described = loss_chart(snap, curve)
        st.echarts_chart(option, key="live:loss", height=320, alt=described)
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
