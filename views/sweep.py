"""Sweep: one hyperparameter over a range for one or more models, trained together (batched) in the
background and saved to the run store; the sparsity-fidelity frontier (L0 against FVU) of the runs."""

from __future__ import annotations

import streamlit as st

from core import analysis, render
from ui import downloads, look, session, stored_runs, sweep_live, typed_input

page = sweep_live.get()
st.header("Sweep")
st.caption("Train one model at many values of one setting and see how sparsity trades against fidelity. Points "
           "of one shape train together, one batched step for all of them; every run is saved to the run store.")

with st.container(border=True):
    top = st.columns([1.2, 2, 2])
    param = top[0].selectbox("Parameter", list(sweep_live.PARAMS), format_func=sweep_live.PARAMS.get,
                             key=session.persist_choice("sweep:param", sweep_live.PARAMS, "k"))
    options = sweep_live.candidates(param)
    models_key = session.persist_choice(f"sweep:models:{param}", options, options[:1])
    top[1].multiselect("Models", options, key=models_key, help="Each model is swept over the same values.")
    values_key = session.persist(f"sweep:values:{param}",
                                ", ".join(f"{v:g}" for v in typed_input.default_sweep_values(param)))
    top[2].text_input("Values", key=values_key,
                      help="Numbers separated by commas, or low:high:count for log-spaced values (e.g. 1e-4:1e-1:6).")
    row = st.columns([1.2, 2, 2])
    row[0].number_input("Atoms (n_components)", 2, 512, key=session.persist("sweep:n", 32),
                        disabled=param == "n_components",
                        help="The size of every run (unless n_components is the swept setting).")
    row[1].select_slider("Steps per run", look.STEP_CHOICES,
                         key=session.persist_choice("sweep:steps", look.STEP_CHOICES, 500))
    row[2].toggle("PCA and NMF of the same rank as reference points", key=session.persist("sweep:refs", True))
    session.remember("sweep:param", models_key, values_key, "sweep:n", "sweep:steps", "sweep:refs")
    buttons = st.columns([1.2, 1, 3.2])
    active = page.job is not None and page.job.snapshot(touch=False).active
    buttons[0].button("Start sweep", type="primary", icon=":material/play_arrow:", width="stretch",
                      on_click=sweep_live.start, key="sweep:start")
    buttons[1].button("Stop", icon=":material/stop:", width="stretch", disabled=not active,
                      on_click=sweep_live.stop, key="sweep:stop")
    buttons[2].caption(f"On `{session.get().data.label}` (change it on the Data page).")
    if page.error:
        st.error(page.error)
    sweep_live.live_panel()


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
    """A saved run's atoms (read once for the thumbnails too) and their grid picture."""
    atoms = stored_runs.saved_atoms(root, run_id)
    return atoms, render.atom_grid(atoms, image_shape, scale=3)


@st.cache_resource(show_spinner=False, max_entries=8)
def _frontier(rows: list, references: list):
    """The frontier figure, built once per set of points: plotly checks every property (20 ms), and the page
    reruns on every click. Streamlit only reads the figure."""
    return sweep_live.frontier_figure(rows, references)


@st.cache_data(show_spinner="Reference points: PCA and NMF of the same rank ...", max_entries=16)
def _references(key: str, ranks: tuple, _record) -> list:
    dataset = stored_runs.dataset_of(_record)
    return analysis.reference_points(dataset.X, ranks, nmf=bool(dataset.non_negative))


def results() -> None:
    run_store = stored_runs.store()
    runs = [r for r in stored_runs.saved_runs(run_store) if r.sweep]
    st.subheader("Sparsity-fidelity frontier", anchor=False)
    if not runs:
        st.info("No sweeps saved yet: pick a parameter and values above and press **Start sweep**.")
        return
    sweeps: dict[str, list] = {}
    for record in runs:
        sweeps.setdefault(record.sweep, []).append(record)

    def label(sweep_id: str) -> str:
        first = sweeps[sweep_id][0]
        param = first.extra.get("sweep_param", "?")
        values = sorted(r.extra.get("sweep_value") for r in sweeps[sweep_id])
        shown_values = ", ".join(f"{v:g}" for v in values)
        return (f"{first.model} · {param} ∈ {{{shown_values}}} · {stored_runs.data_label(first)} · "
                f"{stored_runs.run_label(first).rsplit('·', 1)[-1].strip()}")

    snap = page.job.snapshot(touch=False) if page.job is not None else None
    wanted = [s for s in (snap.sweep_ids if snap else []) if s in sweeps] or [next(iter(sweeps))]
    ss = st.session_state
    ss.setdefault("sweep:last_job_sweeps", wanted)  # not a widget: kept across pages
    session.persist("sweep:shown", wanted)
    if snap and not snap.active and wanted != ss["sweep:last_job_sweeps"]:  # a sweep ended: show it, once
        ss["sweep:shown"] = ss["sweep:last_job_sweeps"] = wanted
    ss["sweep:shown"] = [s for s in ss["sweep:shown"] if s in sweeps] or wanted
    shown = st.multiselect("Sweeps to show", list(sweeps), key="sweep:shown", format_func=label)
    session.remember("sweep:shown")
    records = [r for s in shown for r in sweeps[s]]
    if not records:
        st.info("Pick at least one sweep to show.")
        return
    rows = []
    for r in records:
        m = r.metrics
        rows.append({"model": r.model, "param": r.extra.get("sweep_param"), "value": r.extra.get("sweep_value"),
                     "status": r.extra.get("sweep_status", r.status), "l0": m.get("l0"), "fvu": m.get("fvu"),
                     "mse": m.get("mse"), "dead_fraction": m.get("dead_fraction"), "hoyer_atoms": m.get("hoyer_atoms"),
                     "hoyer_codes": m.get("hoyer_codes"), "seconds": m.get("seconds"),
                     "n_components": r.n_components, "name": r.name, "run_id": r.id,
                     "atoms": _thumbnail(str(run_store.root), r.id, r.image_shape)})
    references: list = []
    if st.session_state.get("sweep:refs", True):
        ranks = tuple(sorted({int(r.n_components) for r in records if r.n_components}))
        from_job = snap.references if snap is not None and set(shown) <= set(snap.sweep_ids) else []
        if from_job:
            references = from_job
        else:
            try:
                references = _references(stored_runs.data_key(records[0]), ranks, records[0])
            except Exception as error:  # noqa: BLE001 - the data cannot be loaded: no reference points
                st.caption(f"No reference points: {error}")
    by_id = {r.id: r for r in records}
    chart_col, atoms_col = st.columns([1.15, 1], gap="large")
    with chart_col:
        event = st.plotly_chart(_frontier(rows, references), key="sweep:plot", on_select="rerun",
                                selection_mode="points", config={"displayModeBar": False})
        _pick_clicked(event, rows, by_id)
        st.caption("Hover a point for its setting and metrics; click it to show its atoms on the right. Lower "
                   "left is better: fewer active codes and less variance unexplained.")
    with atoms_col:
        _run_panel(run_store, [row["run_id"] for row in rows], by_id)
    table = [{"atoms": row["atoms"], **{k: v for k, v in row.items() if k != "atoms"}} for row in rows]
    st.markdown("**Runs** (click a column header to sort)")
    st.dataframe(table, hide_index=True, width="stretch", row_height=38, column_config={
        "atoms": st.column_config.ImageColumn("atoms", width=110, help="The run's first four atoms"),
        "l0": st.column_config.NumberColumn("L0", format="%.2f"),
        "fvu": st.column_config.NumberColumn("FVU", format="%.4f"),
        "mse": st.column_config.NumberColumn("MSE", format="%.3g"),
        "dead_fraction": st.column_config.NumberColumn("dead", format="percent"),
        "seconds": st.column_config.NumberColumn("seconds", format="%.1f")})
    buttons = st.columns([1, 1, 2])
    with buttons[0]:
        downloads.csv_button([{k: v for k, v in row.items() if k != "atoms"} for row in rows], "Sweep table (CSV)",
                           "sweep.csv", key="sweep:csv")
    with buttons[1]:
        downloads.csv_button(references, "Reference points (CSV)", "sweep-references.csv", key="sweep:refs-csv",
                           disabled=not references)


def _describe(record) -> str:
    return f"{record.model} · {record.extra.get('sweep_param', '?')} = {record.extra.get('sweep_value', '?')}"


def _pick_near() -> None:
    st.session_state["sweep:atoms"] = st.session_state["sweep:near"]


def _pick_clicked(event, rows: list, by_id: dict) -> None:
    """A new click on a point shows its run; where several runs' points lie under the click (two curves
    overlap), a picker names them all, so the run shown is the one the user means, not the one drawn on top.
    A click is taken once: picking another run afterwards is not undone by the chart's standing selection."""
    ss = st.session_state
    points = event.selection.points if event and event.selection else []
    clicked = points[0].get("customdata") if points else None
    if clicked != ss.get("sweep:clicked"):
        ss["sweep:clicked"] = clicked
        if clicked in by_id:
            ss["sweep:atoms"] = ss["sweep:near"] = clicked
    near = analysis.points_near(rows, clicked) if clicked in by_id else []
    if len(near) > 1 and ss.get("sweep:atoms") in near:
        st.radio(f"{len(near)} runs lie where you clicked; show the atoms of", near, key="sweep:near",
                 horizontal=True, format_func=lambda run_id: _describe(by_id[run_id]), on_change=_pick_near)


def _run_panel(run_store, ids: list, by_id: dict) -> None:
    """The chosen run's atoms and its downloads."""
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
             caption=f"{_describe(record)}: L0 {record.metrics.get('l0', 0):.2f}, "
                     f"FVU {record.metrics.get('fvu', 0):.4f}")
    stem = downloads.file_stem(record.name)
    downloads.atoms_buttons(atoms, record.image_shape, stem, key="sweep:atoms-export")
    downloads.weights_button(run_store, record, key="sweep:weights")


results()
