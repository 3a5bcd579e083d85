"""The live panel of the Train page: it only copies the job's snapshot and draws it.

Drawn by ``st.fragment(run_every=PERIOD)`` while a run is going, so only this panel reruns (2.5
times a second); once the run ends, one full rerun draws the final state and the polling stops.
"""

from __future__ import annotations

import math

import streamlit as st

from core import metrics, render
from core.jobs import DIVERGED, RUNNING, WAITING, Snapshot, get_manager
from ui import caches, data_loading, knobs, look, presenter, run_address, session, train_runner

PERIOD = 0.4  # seconds between two redraws while training: 2.5 a second (the target is at least 2)
# A page watching another tab's run from its link redraws more slowly: a class of 30 watching one run costs the
# server 30 pages' redraws, and a viewer steers nothing (the target is at least one a second; bench/RESULTS.md)
WATCH_PERIOD = 0.8
CURVES = {"MSE": "mse", "Loss": "loss", "L0": "l0", "Dead fraction": "dead_fraction"}
CURVE_KEY = "live:curve"
CURVE_POINTS = 400  # the live curve is drawn from at most this many points (render.thin_curve)
LOG_KEY = "live:log"
MERGE_SECONDS = 1.0  # live changes this close in time (arrow keys on a slider) share one mark
# Change labels go in rows above the plot, each in the first row where it clears the others. Their room is
# judged in pixels of the plot the page's wide layout gives the curve in a 1280 px window (260 px): a wider
# plot only spreads them further apart.
LABEL_ROWS = 3
LABEL_ROW_PX = 13
PLOT_WIDTH_PX = 260
LABEL_CHAR_PX = 6.5  # mean width of a character of an 11 px label
LABEL_GAP_PX = 8


def grid_options() -> dict:
    """The atom grid's look (chosen under Download; the live grid uses the same)."""
    ss = st.session_state
    return {"columns": ss.get("grid:columns") or None, "scale": int(ss.get("grid:scale", 4)),
            "cmap": ss.get("grid:cmap", "auto")}


# The atoms change a few times a second at most, the panel redraws 2.5 times a second: draw each version once,
# and encode it once for every page showing it (a run watched from its link by a class: bench/soak_viewers.py).
_PICTURES = caches.RecentResults(kept=32)
_PNGS = caches.RecentResults(kept=32)


def atoms_picture(snap: Snapshot, options: dict | None = None):
    """The atom grid of a snapshot as a PIL image (core.render), or None before the first atoms. ``options``:
    the grid's look (``grid_options()`` of the script run; a download's callable runs outside one)."""
    if snap is None or snap.atoms is None:
        return None
    opts = options if options is not None else grid_options()
    return _PICTURES.get(_grid_key(snap, opts), lambda: render.atom_grid(
        snap.atoms, snap.image_shape, columns=opts["columns"], scale=opts["scale"], cmap=opts["cmap"]))


def _atoms_png(snap: Snapshot, picture) -> bytes:
    """``picture`` (``atoms_picture(snap)``) as PNG bytes, encoded once for every session that shows it."""
    return _PNGS.get(_grid_key(snap, grid_options()), lambda: render.png_bytes(picture))


def _grid_key(snap: Snapshot, opts: dict) -> tuple:
    """What an atom grid is drawn from: the run, its atoms' version and the grid's look."""
    return snap.job_id, snap.atoms_version, opts["columns"], opts["scale"], opts["cmap"]


def merged_changes(history: list[dict], events: list[tuple[int, dict]],
                   window: float = MERGE_SECONDS) -> list[tuple[int, dict]]:
    """The live changes to mark: changes that came within ``window`` seconds of the one before (a key held
    on a slider sends one per press) share one mark, at the step of their last change, holding each changed
    parameter's final value. The run's history keeps every change as it was applied."""
    seconds = {int(row["step"]): row.get("seconds") for row in history}
    merged: list[tuple[int, dict]] = []
    previous = None
    for step, change in events:
        at = seconds.get(int(step))
        if merged and at is not None and previous is not None and at - previous <= window:
            merged[-1] = (int(step), {**merged[-1][1], **change})
        else:
            merged.append((int(step), dict(change)))
        previous = at
    return merged


def _label_places(steps: list[int], texts: list[str], x_max: float) -> list[tuple[int | None, str]]:
    """Where each change's label goes so that none overprints another: (row above the chart, alignment).
    A label takes the first row where it clears the labels already there; row None when none has room (its
    text is then shown on hover and in the chart's description). Near the edges a label runs inwards."""
    row_ends = [-math.inf] * LABEL_ROWS
    places: list[tuple[int | None, str]] = []
    for step, text in zip(steps, texts):
        x = step / x_max * PLOT_WIDTH_PX
        width = len(text) * LABEL_CHAR_PX + LABEL_GAP_PX
        align = "left" if x < width / 2 else "right" if x + width / 2 > PLOT_WIDTH_PX else "center"
        left = x if align == "left" else x - width if align == "right" else x - width / 2
        row = next((r for r, end in enumerate(row_ends) if left >= end), None)
        if row is not None:
            row_ends[row] = left + width
        places.append((row, align))
    return places


def _precision(value: float) -> int:
    """Decimals that keep six significant digits of ``value``: ECharts rounds a markLine's value to its
    ``precision`` (2 unless told), which drew a PCA error of 0.006843 at 0.01 and 0.00153 at 0."""
    if not math.isfinite(value) or value == 0:
        return 2
    return int(min(20, max(2, 5 - math.floor(math.log10(abs(value))))))


def _plotted(value, log_scale: bool) -> float | None:
    """A value as the chart takes it: a gap (ECharts' null) for NaN or inf (a diverging run; the option must
    be strict JSON) and, on a log scale, for values at or below 0."""
    value = float(value)
    return value if math.isfinite(value) and (value > 0 or not log_scale) else None


def loss_chart(snap: Snapshot | None, curve: str, log_scale: bool = False) -> tuple[dict, str]:
    """The loss curve as an ECharts option, and its text description (the chart's accessible name): the
    chosen metric per step (on a log scale when ``log_scale``), the PCA error as a dashed reference (on the MSE
    curve), live changes as dotted marks labelled in the sliders' words.

    ECharts, not Plotly: this chart is redrawn 2.5 times a second in every tab that trains, and Plotly's
    SVG redraw (text measured in the page's layout on each update) cost a tab 0.2 of a core; ECharts draws
    on a canvas for a fraction of that (bench/RESULTS.md)."""
    column = CURVES[curve]
    rows = [r for r in (snap.history if snap else []) if column in r]
    # the x axis follows the run (its last step plus a margin), so early points are not squeezed
    step = snap.step if snap else 0
    x_max = max(step * 1.08 if snap is not None and snap.active else step, 10)
    marks, notes, precision = [], [], 2
    # the PCA error is a per-number squared error: a model's loss may be in other units (sae-kl's sums over a
    # sample's features), so the line goes on the MSE curve only
    if snap is not None and snap.reference_mse is not None and column == "mse":
        reference = float(snap.reference_mse)
        name = f"PCA error, rank {snap.params.get('n_components')}"
        if _plotted(reference, log_scale) is None:
            notes.append(f"{name} {reference:.4g}, not drawn on a log scale")
        else:
            precision = _precision(reference)
            marks.append({"name": name, "yAxis": reference,
                          "lineStyle": {"type": "dashed", "color": "#4e79a7", "width": 1.5},
                          "label": {"formatter": "{b}", "position": "insideEndTop", "color": "#4e79a7"}})
            notes.append(f"{name} dashed at {reference:.4g}")
    changes = merged_changes(snap.history, snap.events) if snap else []
    texts = [knobs.change_text(change) for _, change in changes]
    places = _label_places([s for s, _ in changes], texts, x_max)
    for (at, _), text, (row, align) in zip(changes, texts, places):
        label = {"show": row is not None, "formatter": "{b}", "position": "end", "align": align,
                 "distance": 4 + LABEL_ROW_PX * (row or 0), "color": "#374151", "fontSize": 11}
        marks.append({"name": text, "xAxis": at, "label": label,
                      "lineStyle": {"type": "dotted", "color": "#6b7280", "width": 1}})
    if texts:
        notes.append("changes marked: " + "; ".join(f"{t} at step {s}" for (s, _), t in zip(changes, texts)))
    rows_used = max((row for row, _ in places if row is not None), default=0)
    steps, values = render.thin_curve([r["step"] for r in rows], [r[column] for r in rows], CURVE_POINTS)
    points = [[int(x), _plotted(y, log_scale)] for x, y in zip(steps, values)]
    hidden = sum(1 for y in values if log_scale and float(y) <= 0)
    if hidden:
        notes.append(f"{hidden} point{'' if hidden == 1 else 's'} at or below 0 not drawn on a log scale")
    y_axis = {"type": "log"} if log_scale else {"type": "value", "min": 0}
    option = {
        "animation": False,
        # ECharts 6 keeps the axis labels and names inside these margins (its outerBounds): small ones do;
        # the top one grows with the rows of change labels
        "grid": {"left": 6, "right": 14, "top": 22 + LABEL_ROW_PX * rows_used, "bottom": 4},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "value", "name": "step", "nameLocation": "middle", "nameGap": 28, "min": 0,
                  "max": x_max, "axisLabel": {"showMaxLabel": not (snap and snap.active)}},
        "yAxis": {**y_axis, "name": curve, "nameLocation": "middle", "nameGap": 44},
        # a lone point (PCA's one step, a run's first logged step) is no line: it is drawn as a dot
        "series": [{"type": "line", "name": curve, "data": points,
                    "showSymbol": sum(y is not None for _, y in points) == 1,
                    "lineStyle": {"color": "#e15759", "width": 2}, "itemStyle": {"color": "#e15759"},
                    "markLine": {"symbol": "none", "precision": precision, "data": marks,
                                 "tooltip": {"trigger": "item", "formatter": "{b}"}}}],
    }
    last = f", the last at step {rows[-1]['step']}: {rows[-1][column]:.4g}" if rows else ""
    scale = " (log scale)" if log_scale else ""
    described = f"{curve} by training step{scale}: {len(rows)} logged points{last}"
    return option, "; ".join([described, *notes]) + "."


ANYWAY_KEY = "train:anyway-started"


def _train_anyway() -> None:
    """The slow run's "Train anyway": start it, and have the panel rerun the whole page (see ``_status``)."""
    state = session.get()
    state.train_error = train_runner.start(state, confirmed=True)
    st.session_state[ANYWAY_KEY] = True


def _status(snap: Snapshot | None) -> None:
    state = session.get()
    if st.session_state.pop(ANYWAY_KEY, False):
        st.rerun()  # started from this panel: the whole page reruns (Stop enabled, this panel polling)
    slow = train_runner.pending_slow_run(state) if snap is None or not snap.active else None
    if slow is not None:  # a slow run starts only when asked twice
        st.warning(slow, icon=":material/hourglass_top:")
        st.button("Train anyway", icon=":material/play_arrow:", key="train:anyway", on_click=_train_anyway)
    if snap is None:
        ready = data_loading.current_dataset() is not None
        st.progress(0.0, text="Ready: press **Train**." if ready else "Not ready: no data set is loaded (see above).")
        return
    if snap.state == WAITING:
        counts = get_manager().counts()
        going = "1 run is" if counts["running"] == 1 else f"{counts['running']} runs are"
        st.progress(0.0, text=f"Waiting for a free training slot: {going} going on this server (at most "
                              f"{counts['max_running']}); you are number {snap.queue_position} in line.")
        return
    label = look.STATE_WORDS[snap.state]
    # a starting run says what it is doing (a million-feature run can take a minute before its first steps)
    rate = "" if snap.state != RUNNING else f" · {snap.phase} ..." if snap.phase else f" · {look.speed(snap)}"
    st.progress(snap.progress, text=f"**{label}** {snap.model_name} on {snap.dataset_name} · "
                                    f"step {snap.step:,} / {snap.max_steps:,}{rate}")
    if snap.error:
        st.error(snap.error + (" The atoms shown are the last good ones." if snap.state == DIVERGED else ""))


def _metrics(snap: Snapshot | None) -> None:
    last = snap.last if snap else {}
    final = snap.metrics if snap else {}
    reference = snap.reference_mse if snap else None
    # while the run goes, the last logged training batch's values (those the curve ends at); once it has ended,
    # core.metrics.evaluate's on the whole data set: the two can differ a little
    measured = (" On the whole data set (the run has ended)." if final else
                " At the last logged training step, on its batch (where the curve ends); on the whole data set "
                "once the run has ended.")
    cells = [("MSE", final.get("mse", last.get("mse")), "{:.4g}",
              "Mean squared reconstruction error, per number." + measured),
             ("PCA error", reference, "{:.4g}", "The error of PCA with as many components: the floor of any "
                                               "linear model of this size (0 when there are as many atoms "
                                               "as features)."),
             # short enough to show whole in a quarter of the panel (the longer label was cut at 1280 px)
             ("L0 per sample", final.get("l0", last.get("l0")), "{:.1f}",
              "L0: the mean number of active codes per sample." + measured),
             ("Dead atoms", final.get("dead_fraction", last.get("dead_fraction")), "{:.0%}",
              "Atoms that fire on no sample of the whole data set (the run has ended)." if final else
              "Atoms that fired on no sample of the latest training batches (the dead window); on the whole "
              "data set once the run has ended.")]
    # as wide as their labels: on a narrow screen (a projector's 1024 px) they wrap rather than cut 'PCA er...'
    row = st.container(horizontal=True, horizontal_alignment="distribute")
    for label, value, fmt, help_text in cells:
        row.metric(label, "–" if value is None else fmt.format(value), help=help_text, width="content")
    reason = metrics.collapse(final or last)
    if reason is not None:
        st.warning(f"**This run has collapsed:** {reason}, so its codes no longer describe the data. "
                   f"{knobs.collapse_fix(snap.model_name, snap.params)}", icon=":material/warning:")


def _body(snap: Snapshot | None) -> None:
    """Everything under the status line: the metrics, the loss curve and the atom grid."""
    _metrics(snap)
    curve_col, atoms_col = st.columns(presenter.curve_atoms_widths((1.45, 1)), gap="medium")
    with curve_col:
        available = [name for name, col in CURVES.items() if not snap or not snap.history or col in snap.last]
        if st.session_state.get(CURVE_KEY) not in available:
            st.session_state[CURVE_KEY] = "MSE"
        curve = st.segmented_control("Curve", available, key=CURVE_KEY, required=True,
                                     label_visibility="collapsed")
        chart = st.container()
        log_scale = st.toggle("Log scale", key=session.persist(LOG_KEY, False),
                              help="A logarithmic y axis: a spike (a learning rate too large) no longer flattens "
                                   "the rest of the curve.")
        session.remember(LOG_KEY)
        option, described = loss_chart(snap, curve, log_scale)
        height = presenter.CHART_HEIGHT_PRESENTING if presenter.on() else 320
        chart.echarts_chart(option, key="live:loss", height=height, alt=described)
    with atoms_col:
        picture = atoms_picture(snap)
        if picture is None:
            st.caption("The learned atoms appear here as soon as the run starts.")
        else:
            caption = f"{len(snap.atoms)} atoms (decoder rows), version {snap.atoms_version}"
            st.image(_atoms_png(snap, picture), caption=caption,
                     width="stretch" if picture.width > 200 or presenter.on() else "content")


def panel(polling: bool) -> None:
    """The fragment: snapshot under the job's lock, then draw. A queued run shows only its place in line
    (redrawing unchanging metrics, curve and grid 2.5 times a second cost each waiting tab a fifth of a
    core in the browser, and a classroom's tabs mostly wait); the same fragment draws them once it starts."""
    state = session.get()
    if run_address.settings_moved(state):
        st.rerun()  # the watched run's owner moved a live knob: the whole page shows it (the knobs are outside)
    run_address.follow(state)  # a run whose start was recorded after the page's run gets its address now
    job = state.job
    snap = job.snapshot() if job is not None else None
    _status(snap)
    if snap is not None and snap.state == WAITING:
        st.caption("The loss curve and the atoms appear here as soon as the run starts.")
    else:
        _body(snap)
    if polling and (snap is None or not snap.active):
        st.rerun()  # the run ended: one full rerun draws the final state and stops the polling


def live_panel() -> None:
    state = session.get()
    polling = state.training
    period = WATCH_PERIOD if state.watching else PERIOD
    st.fragment(run_every=period if polling else None)(panel)(polling)
