"""The views of a sweep, live while it runs and for saved sweeps: the frontier of any two metrics (mean and
spread over seeds, the Pareto front, PCA and NMF baselines), parallel coordinates of settings and metrics, a
gallery of atom grids across the grid, the trials table, exports, and opening a run in Inspect or Compare.
The numbers come from ``core.analysis.frontier``; this module only draws them."""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

import plotly.graph_objects as go
import streamlit as st

from core import analysis, render
from core.analysis import frontier
from core.render.gallery import gallery
from ui import compare_live, downloads, look, session, stored_runs

COLORS = ["#e15759", "#4e79a7", "#59a14f", "#b07aa1", "#f28e2b", "#76b7b2", "#edc948"]
BESIDE_COLOR = "#9c755f"  # runs drawn beside a sweep: a colour no curve takes
AXES = {"l0": "L0 (active codes per sample)", "fvu": "FVU (fraction of variance unexplained)",
        "mse": "MSE (mean squared error)", "dead_fraction": "dead latents (fraction)",
        "seconds": "training seconds", "hoyer_atoms": "Hoyer sparseness of the atoms",
        "hoyer_codes": "Hoyer sparseness of the codes"}
#: the metrics' names in the axis pickers
SHORT = {"l0": "L0", "fvu": "FVU", "mse": "MSE", "dead_fraction": "dead fraction", "seconds": "seconds",
         "hoyer_atoms": "Hoyer of the atoms", "hoyer_codes": "Hoyer of the codes"}
#: the metrics a PCA/NMF baseline point has
BASELINE_METRICS = ("l0", "fvu", "mse")
PARALLEL_METRICS = ("l0", "fvu", "mse", "dead_fraction", "seconds")
#: what a click on a point of the frontier does
CLICK_ACTIONS = {"atoms": "shows its atoms here", "inspect": "opens it in Inspect",
                 "compare": "opens it in Compare beside"}
CLICK_HINTS = {"atoms": "show its atoms", "inspect": "open it in Inspect", "compare": "open it in Compare"}


def sweep_label(records: Sequence[Any]) -> str:
    """A saved sweep in one line: its models, each swept setting's distinct values, seeds, data, trials, the
    training seconds of all its trials and when it was saved."""
    settings = frontier.swept_params(records)
    rows = frontier.trial_rows(records, settings)
    grid = " × ".join(f"{name} ∈ {frontier.values_label(row[name] for row in rows)}" for name in settings)
    grid = grid or "one setting"
    seeds = len({row["seed"] for row in rows})
    seconds = sum(float(row["seconds"]) for row in rows if isinstance(row.get("seconds"), (int, float)))
    first = records[0]
    when = f"{first.id[9:11]}:{first.id[11:13]}:{first.id[13:15]}"
    models_ = ", ".join(dict.fromkeys(r.model for r in records))
    trials = f"{len(records)} trial{'s' * (len(records) > 1)}{_cut_short(rows)}"
    return (f"{models_} · {grid}" + (f" · {seeds} seeds" if seeds > 1 else "") +
            f" · {frontier.data_of(first)} · {trials} · {seconds:,.1f} s · {when}")


def _cut_short(rows: list[dict[str, Any]]) -> str:
    """' (1 stopped early)': the trials not trained to the end, or nothing."""
    counts = frontier.unfinished(rows)
    words = [f"{n} {'stopped early' if status == 'stopped' else status}" for status, n in counts.items()]
    return f" ({', '.join(words)})" if words else ""


def _hover(group: dict[str, Any], x: str, y: str, click: str = "atoms") -> str:
    def value(metric: str) -> str:
        mean, spread = group.get(metric), group.get(f"{metric}_std")
        if mean is None:
            return "–"
        return f"{mean:.4g}" + (f" ± {spread:.2g}" if group["seeds"] > 1 and spread is not None else "")

    seeds = f"{group['seeds']} seeds, mean ± sd" if group["seeds"] > 1 else "1 seed"
    cut = ", ".join(f"{n} of {group['seeds']} seed{'s' * (group['seeds'] > 1)} {status}"
                      for status, n in group.get("unfinished", {}).items())
    return (f"<b>{group['label']}</b> ({seeds})<br>{SHORT.get(x, x)} {value(x)} · {SHORT.get(y, y)} {value(y)}"
            + (f"<br>not trained to the end: {cut}" if cut else "")
            + f"<br><i>click to {CLICK_HINTS[click]}</i>")


def frontier_figure(groups: list[dict[str, Any]], settings: Sequence[str], x: str, y: str,
                    references: list[dict[str, Any]], beside: Sequence[dict[str, Any]] = (),
                    click: str = "atoms") -> go.Figure:
    """Metric ``x`` against ``y``, one point per setting (the mean over its seeds, error bars one standard
    deviation either way), one curve along the first setting per model and value of the other settings; the
    Pareto front as a dashed line through its ringed points; PCA and NMF baselines of the same ranks where both
    metrics are theirs; ``beside``: stored runs outside the sweep (``core.analysis.frontier.measured_beside``),
    each a labelled cross. A point's ``customdata`` is its run id (a setting's: its first seed's), which a
    click opens (``click``: what a click does, ``CLICK_ACTIONS``, said in the hover text)."""
    fig = go.Figure()
    placed = [g for g in groups if g.get(x) is not None and g.get(y) is not None]
    on_front = frontier.pareto_front(placed, x, y)
    first, others = (settings[0], list(settings[1:])) if settings else (None, [])
    curves: dict[str, list[dict[str, Any]]] = {}  # a curve along the first setting per model and other settings
    for group in placed:
        curves.setdefault(frontier.setting_label(group, others), []).append(group)
    for index, (name, points) in enumerate(curves.items()):
        points = sorted(points, key=lambda g: g[x] if first is None or not isinstance(g.get(first), (int, float))
                        else g[first])
        front = [on_front[placed.index(g)] for g in points]
        color = COLORS[index % len(COLORS)]
        fig.add_trace(go.Scatter(
            x=[g[x] for g in points], y=[g[y] for g in points], mode="lines+markers", name=name,
            customdata=[g["run_ids"][0] for g in points],
            error_x={"type": "data", "array": [g.get(f"{x}_std") or 0 for g in points], "thickness": 1, "width": 0},
            error_y={"type": "data", "array": [g.get(f"{y}_std") or 0 for g in points], "thickness": 1, "width": 3},
            marker={"size": [13 if f else 9 for f in front], "color": color,
                    "line": {"width": [2.5 if f else 0 for f in front], "color": "#111827"}},
            line={"width": 1.5, "color": color}, hovertext=[_hover(g, x, y, click) for g in points], hoverinfo="text"))
    front_points = sorted((g for g, f in zip(placed, on_front) if f), key=lambda g: g[x])
    if len(front_points) > 1:
        fig.add_trace(go.Scatter(x=[g[x] for g in front_points], y=[g[y] for g in front_points], mode="lines",
                                 name="Pareto front", line={"dash": "dash", "color": "#111827", "width": 1.2},
                                 hoverinfo="skip"))
    if x in BASELINE_METRICS and y in BASELINE_METRICS:
        data_sets = list(dict.fromkeys(r.get("data") for r in references))
        several = len(data_sets) > 1  # sweeps on different data shown together: each data set's baselines, named
        for ref_model, symbol, color in (("pca", "diamond", "#111827"), ("nmf", "star", "#6b7280")):
            for index, data in enumerate(data_sets):
                refs = [r for r in references if r["model"] == ref_model and r.get("data") == data]
                if not refs:
                    continue
                on = f" on {data}" if several else ""
                fig.add_trace(go.Scatter(
                    x=[r[x] for r in refs], y=[r[y] for r in refs], mode="markers+text",
                    name=f"{ref_model.upper()} (same rank){on}",
                    marker={"symbol": symbol, "size": 13, "color": color,
                            "line": {"width": 2 if index else 0, "color": COLORS[index % len(COLORS)]}},
                    # the data set in the legend and the hover: beside the marker, two such labels would overlap
                    text=[f"{ref_model.upper()} {r['n_components']}" for r in refs], textposition="top center",
                    hovertext=[f"<b>{ref_model.upper()}</b> rank {r['n_components']}{on}<br>{SHORT.get(x, x)} "
                               f"{r[x]:.4g} · {SHORT.get(y, y)} {r[y]:.4g}" for r in refs], hoverinfo="text"))
    placed_beside = [r for r in beside if r.get(x) is not None and r.get(y) is not None]
    if placed_beside:
        fig.add_trace(go.Scatter(
            x=[r[x] for r in placed_beside], y=[r[y] for r in placed_beside], mode="markers+text",
            name="Runs beside the sweep", customdata=[r["run_id"] for r in placed_beside],
            marker={"symbol": "x", "size": 13, "color": BESIDE_COLOR, "line": {"width": 1, "color": "#111827"}},
            text=[r["name"] for r in placed_beside], textposition="top right",
            textfont={"color": BESIDE_COLOR},
            hovertext=[f"<b>{r['name']}</b> ({r['model']}, beside the sweep, measured on its data)<br>"
                       f"{SHORT.get(x, x)} {r[x]:.4g} · {SHORT.get(y, y)} {r[y]:.4g}"
                       f"<br><i>click to {CLICK_HINTS[click]}</i>"
                       for r in placed_beside], hoverinfo="text"))
    axis = {"rangemode": "tozero"}
    fig.update_layout(height=480, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis={"title": AXES.get(x, x), **axis}, yaxis={"title": AXES.get(y, y), **axis},
                      legend={"orientation": "h", "y": -0.15, "yanchor": "top"}, clickmode="event+select")
    return fig


def _dimension(label: str, values: list[Any]) -> dict[str, Any]:
    """One axis of the parallel coordinates: numbers as they are (log10 when they span two decades or
    more; one value for every trial: that value and a small margin, one tick), words as evenly spaced ticks."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        numbers = [float(v) for v in values]
        if numbers and min(numbers) == max(numbers):  # Plotly would span -1..1: the value, a margin, one label
            value = numbers[0]
            margin = 0.05 * abs(value) or 0.05
            ends = [value - margin, value + margin]  # unlabelled ticks at the ends: Plotly draws the axis between ticks
            return {"label": label, "values": numbers, "range": ends, "tickvals": [ends[0], value, ends[1]],
                    "ticktext": ["", f"{value:.4g}", ""]}
        if min(numbers) > 0 and max(numbers) / min(numbers) >= 100:
            return {"label": f"log10 {label}", "values": [math.log10(v) for v in numbers]}
        return {"label": label, "values": numbers}
    names = list(dict.fromkeys(str(v) for v in values))
    return {"label": label, "values": [names.index(str(v)) for v in values], "tickvals": list(range(len(names))),
            "ticktext": names}


def parallel_figure(rows: list[dict[str, Any]], settings: Sequence[str], color_by: str = "fvu",
                    beside: Sequence[dict[str, Any]] = ()) -> go.Figure:
    """Parallel coordinates of every trial: the model (when several), each swept setting, the seed, then the
    metrics; lines coloured by ``color_by``. Trials lacking a value are left out (a diverged run). Runs
    ``beside`` the sweep are lines too, named on a first axis ('run'); a metric one of them lacks (an imported
    SAE's training time) is no axis, and one lacking a swept setting is left out (``parallel_left_out``)."""
    # those left out add no axis and drop none
    beside = [r for r in beside if all(r.get(name) is not None for name in settings)]
    lines = [{**r, "run": "sweep trials"} for r in rows] + [{**r, "run": r["name"]} for r in beside]
    columns = (["run"] if beside else []) + (["model"] if len({r["model"] for r in lines}) > 1 else [])
    columns += [*settings, "seed"]
    columns += [m for m in PARALLEL_METRICS if any(r.get(m) is not None for r in rows)
                and all(r.get(m) is not None for r in beside)]
    complete = [r for r in lines if all(r.get(c) is not None for c in columns)]
    dimensions = [_dimension(c, [r[c] for r in complete]) for c in columns] if complete else []
    colors = [r.get(color_by) or 0 for r in complete]
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line={
        "color": colors, "colorscale": "Viridis", "showscale": True, "colorbar": {"title": SHORT.get(color_by, color_by)}}))
    names = [str(r["run"]) for r in complete] if beside else []
    left = min(220, max(60, 7 * max(map(len, names), default=0)))  # room for the 'run' axis' names on the left
    fig.update_layout(height=380, margin={"l": left, "r": 40, "t": 50, "b": 20})
    return fig


def parallel_left_out(beside: Sequence[dict[str, Any]], settings: Sequence[str]) -> list[str]:
    """The names of the runs beside the sweep that lack one of its settings (no place on its axis)."""
    return [r["name"] for r in beside if any(r.get(name) is None for name in settings)]


def trials_json(records: Sequence[Any], settings: Sequence[str], failed: Sequence[dict[str, Any]] = ()) -> bytes:
    """Every trial with its parameters, seed, metrics and run id, as JSON (a list of objects); then the
    ``failed`` ones (``frontier.failed_rows``), each with its error."""
    trials = [frontier.trial_record(r, settings) for r in records] + list(failed)
    return json.dumps(trials, indent=1, default=str).encode("utf-8")


def open_in_inspect(run_id: str) -> None:
    """Make ``run_id`` Inspect's pick (also across the page change) and go there."""
    st.session_state["inspect:run"] = run_id
    session.get().widgets["inspect:run"] = run_id
    st.switch_page("views/inspect.py")


def open_in_compare(left_id: str, right_id: str) -> None:
    """Make the two runs Compare's 'Two saved runs' pick and go there."""
    compare_live.get().select = (left_id, right_id)
    st.switch_page("views/compare.py")


@st.cache_resource(show_spinner=False, max_entries=256)
def _thumbnail(root: str, run_id: str, image_shape) -> str | None:
    """A saved run's first atoms as a small picture for the table (a saved run's atoms never change)."""
    try:
        return analysis.atoms_thumbnail(stored_runs.saved_atoms(root, run_id), image_shape)
    except Exception:  # noqa: BLE001 - a thumbnail is a bonus; the run's own panel says what is wrong
        return None


# Cached: the page reruns on every click in the plot or the pickers, and a saved run's atoms never change.
@st.cache_resource(show_spinner="Loading the run ...", max_entries=16)
def _atoms(root: str, run_id: str, image_shape) -> tuple:
    atoms = stored_runs.saved_atoms(root, run_id)
    return atoms, render.atom_grid(atoms, image_shape, scale=3)


@st.cache_resource(show_spinner="Drawing the gallery ...", max_entries=8)
def _gallery(root: str, panels: tuple, image_shape, columns: int):
    """The gallery picture of ``panels`` ((run id, label) pairs): saved atoms never change."""
    return gallery([(stored_runs.saved_atoms(root, run_id), label) for run_id, label in panels], image_shape,
                   columns=columns, scale=look.tile_scale(image_shape, 32))


def gallery_tab(run_store, groups: list, settings: list, by_id: dict) -> None:
    first = by_id[groups[0]["run_ids"][0]]
    alike = [g for g in groups if by_id[g["run_ids"][0]].image_shape == first.image_shape
             and by_id[g["run_ids"][0]].n_features == first.n_features]
    ordered, columns = frontier.gallery_layout(alike, settings)
    panels = tuple((g["run_ids"][0], label) for g, label in ordered)
    try:
        picture = _gallery(str(run_store.root), panels, first.image_shape, columns)
    except Exception as error:  # noqa: BLE001 - the store's message
        st.error(str(error))
        return
    st.image(picture, width="content",  # drawn at its own size: a stretched atom blurs
             caption=f"The first atoms of each setting's first seed, one panel per setting ({len(panels)})."
                     + (f" {len(groups) - len(alike)} settings on other data are left out." if len(alike) < len(groups)
                        else ""))
    downloads.png_button(picture, "Gallery (PNG)", "sweep-gallery.png", key="sweep:gallery-png")


def trials_tab(run_store, records: list, rows: list, settings: list, references: list, failed: Sequence = ()) -> None:
    """The saved trials' table and the exports: every trial, the ``failed`` ones (no weights, not in the
    table: ``frontier.failed_rows``) with their error, as the CLI prints them."""
    shapes = {record.id: record.image_shape for record in records}
    rows = frontier.sorted_trials(rows, settings)
    unrecorded = [key for key in rows[0] if all(row.get(key) is None for row in rows)]  # e.g. an old run's device
    table = [{"atoms": _thumbnail(str(run_store.root), row["run_id"], shapes[row["run_id"]]),
              **{k: v for k, v in row.items() if k not in unrecorded}} for row in rows]
    st.dataframe(table, hide_index=True, width="stretch", row_height=38, column_config={
        "atoms": st.column_config.ImageColumn("atoms", width=110, help="The run's first four atoms"),
        "l0": st.column_config.NumberColumn("L0", format="%.2f"),
        "fvu": st.column_config.NumberColumn("FVU", format="%.4f"),
        "mse": st.column_config.NumberColumn("MSE", format="%.3g"),
        "dead_fraction": st.column_config.NumberColumn("dead", format="percent"),
        "seconds": st.column_config.NumberColumn("seconds", format="%.1f", help=(
            "Training time; SAEs trained as one stack share its time evenly"))})
    if failed:
        st.caption(f"{len(failed)} failed trial{'s' * (len(failed) > 1)} (no weights, so not in the table) "
                   f"{'are' if len(failed) > 1 else 'is'} in the exports, with the error.")
    flat_failed = [{k: v for k, v in row.items() if k not in ("params", "dataset", "data_options")} for row in failed]
    buttons = st.columns(3)
    with buttons[0]:
        downloads.csv_button(rows + flat_failed, "Every trial (CSV)", "sweep-trials.csv", key="sweep:csv")
    with buttons[1]:
        st.download_button("Every trial (JSON)", trials_json(records, settings, failed),
                           file_name="sweep-trials.json", mime="application/json", key="sweep:json",
                           on_click="ignore", icon=":material/data_object:", width="stretch")
    with buttons[2]:
        downloads.csv_button(references, "Baselines (CSV)", "sweep-baselines.csv", key="sweep:refs-csv",
                             disabled=not references)


def click_choice(names: dict) -> tuple[str, str | None]:
    """The choice above the frontier: what a click on a point does and, to open it in Compare, the run it
    goes beside (``names``: each run's label)."""
    ids = list(names)
    cols = st.columns(2, vertical_alignment="bottom")
    action = cols[0].selectbox("A click on a point", list(CLICK_ACTIONS), format_func=CLICK_ACTIONS.get,
                               key=session.persist("sweep:click", "atoms"))
    session.remember("sweep:click")
    if action != "compare" or not ids:
        return action, None
    key = session.persist_choice("sweep:click-other", ids, ids[0])
    partner = cols[1].selectbox("Compared with", ids, key=key, format_func=names.get,
                                help="The run a clicked point is opened beside on the Compare page.")
    session.remember(key)
    return action, partner


def _pick_near() -> None:
    st.session_state["sweep:atoms"] = st.session_state["sweep:near"]


def pick_clicked(event, points: list, names: dict, x: str, y: str, action: str = "atoms",
                 partner: str | None = None) -> None:
    """A new click on a point shows its run, or opens it at once in Inspect or in Compare beside ``partner``
    (``action``, from ``click_choice``); where several points lie under the click (two curves overlap), a
    picker names them all, so the run shown is the one the user means, not the one drawn on top. A click is
    taken once: picking another run afterwards is not undone by the chart's standing selection."""
    ss = st.session_state
    clicked_points = event.selection.points if event and event.selection else []
    clicked = clicked_points[0].get("customdata") if clicked_points else None
    new = clicked != ss.get("sweep:clicked")
    if new:
        ss["sweep:clicked"] = clicked
        if clicked in names:
            ss["sweep:atoms"] = ss["sweep:near"] = clicked
    near = analysis.points_near(points, clicked, x, y) if clicked in names else []
    if new and clicked in names and len(near) <= 1:
        if action == "inspect":
            open_in_inspect(clicked)
        elif action == "compare" and partner not in (None, clicked):
            open_in_compare(clicked, partner)
        elif action == "compare":
            st.warning("That is the run it would be compared with: pick another run beside it above, or "
                       "click another point.")
    if len(near) > 1 and ss.get("sweep:atoms") in near:
        then = "" if action == "atoms" else " (then open it with the buttons under its atoms)"
        st.radio(f"{len(near)} runs lie where you clicked; show the atoms of{then}", near, key="sweep:near",
                 horizontal=True, format_func=names.get, on_change=_pick_near)


def run_panel(run_store, by_id: dict, names: dict) -> None:
    """The chosen run's atoms (``names``: each run's setting and seed), its downloads, and buttons that open it
    in Inspect or Compare."""
    ids = list(names)
    atoms_key = session.persist_choice("sweep:atoms", ids, ids[0])
    run_id = st.selectbox("Show the atoms of", ids, key=atoms_key,
                          format_func=lambda i: stored_runs.run_label(by_id[i]))
    session.remember(atoms_key)
    record = by_id[run_id]
    try:
        atoms, picture = _atoms(str(run_store.root), run_id, record.image_shape)
    except Exception as error:  # noqa: BLE001 - the store's message
        st.error(str(error))
        return
    st.image(picture, width=look.picture_width(picture),
             caption=f"{names[run_id]}: L0 {record.metrics.get('l0', 0):.2f}, "
                     f"FVU {record.metrics.get('fvu', 0):.4f}")
    others = [i for i in ids if i != run_id]
    other = st.selectbox("Compare with", others, key=session.persist_choice("sweep:other", others,
                                                                           others[0] if others else None),
                         format_func=names.get, disabled=not others)
    opens = st.container(horizontal=True)  # whole labels in this half of the page: the row wraps instead
    if opens.button("Open in Inspect", key="sweep:open-inspect", icon=":material/search:",
                    help="Open this run on the Inspect page."):
        open_in_inspect(run_id)
    if opens.button("Open both in Compare", key="sweep:open-compare", icon=":material/compare:",
                    disabled=not others, help="Open this run and the one picked above on the Compare page."):
        open_in_compare(run_id, other)
    stem = downloads.file_stem(record.name)
    downloads.atoms_buttons(atoms, record.image_shape, stem, key="sweep:atoms-export")
    downloads.weights_button(run_store, record, key="sweep:weights", label="Weights (safetensors)")
