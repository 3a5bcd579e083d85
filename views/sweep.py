"""Sweep: models over a grid of up to three settings times seeds, trained in the background (batched where
they can be, on this server or a Ray cluster) and saved to the run store; the frontier of any two metrics
with mean and spread over seeds, parallel coordinates, a gallery of atoms across the grid, and exports."""

from __future__ import annotations

import streamlit as st

from core import analysis
from core.analysis import frontier
from ui import data_loading, look, session, stored_runs, sweep_against, sweep_live, sweep_views, typed_input

page = sweep_live.get()
st.header("Sweep")
st.caption("Train models at every combination of up to three settings, each with several seeds, and see how "
           "sparsity trades against fidelity. SAEs of one shape train together as one stacked model where "
           "that is faster (on a GPU; on the CPU while the stack fits the cache); every run is saved to the "
           "run store.")


def _param_row(row: int, columns) -> None:
    """Parameter row ``row``: which setting (the second and third may be none) and its values."""
    earlier = sweep_live.chosen_params()[:row] if row else []
    options = ([] if row == 0 else [sweep_live.NONE]) + [p for p in sweep_live.PARAMS if p not in earlier]
    key = sweep_live.PARAM_KEYS[row]
    label = ("Parameter", "Second parameter", "Third parameter")[row]
    param = columns[0].selectbox(label, options, key=session.persist_choice(key, options, options[0]),
                                 format_func=lambda p: "none" if p == sweep_live.NONE else sweep_live.PARAMS[p])
    if param == sweep_live.NONE:
        columns[1].caption("Add a second or third setting to sweep a grid.")
        session.remember(key)
        return
    values = session.persist(sweep_live.values_key(row, param),
                             ", ".join(f"{v:g}" for v in typed_input.default_sweep_values(param)))
    columns[1].text_input("Values", key=values, help="Numbers separated by commas, or low:high:count for "
                          "log-spaced values (e.g. 8:256:6 for k, 1e-4:1e-1:6 for a weight).")
    session.remember(key, values)


def form() -> None:
    with st.container(border=True):
        for row in range(3):
            _param_row(row, st.columns([1.3, 2.4]))
        params = sweep_live.chosen_params()
        options = sweep_live.candidates(*params)
        models_key = session.persist_choice(sweep_live.models_key(params), options, options[:1])
        top = st.columns([2.4, 0.7, 1])
        top[0].multiselect("Models", options, key=models_key,
                           help="Models that have every setting above; each is swept over the same grid.")
        top[1].number_input("Seeds", 1, 10, key=session.persist("sweep:seeds", 1),
                            help="Each setting trains once per seed (random_state 0, 1, ...): the views show the "
                                 "mean and spread over seeds.")
        top[2].number_input("Atoms (n_components)", 2, 512, key=session.persist("sweep:n", 32),
                            disabled="n_components" in params,
                            help="The size of every run (unless n_components is a swept setting).")
        row = st.columns([1.6, 1.4, 1.5])
        row[0].select_slider("Steps per run", look.STEP_CHOICES,
                             key=session.persist_choice("sweep:steps", look.STEP_CHOICES, 500))
        row[1].toggle("PCA and NMF baselines", key=session.persist("sweep:refs", True),
                      help="PCA and NMF at each rank of the sweep, drawn on the frontier for comparison "
                           "(NMF only on non-negative data).")
        backend = row[2].radio("Run on", list(sweep_live.BACKENDS), format_func=sweep_live.BACKENDS.get,
                               horizontal=True, key=session.persist("sweep:backend", "local"))
        session.remember(models_key, "sweep:seeds", "sweep:n", "sweep:steps", "sweep:refs", "sweep:backend")
        if backend == "ray":
            ray_row = st.columns([2, 2.5])
            ray_row[0].text_input("Ray address", key=session.persist("sweep:ray-address",
                                                                      sweep_live.default_ray_address()),
                                  placeholder="auto, or ray://head-node:10001",
                                  help="The cluster's address (`ray start --head` prints it); from RAY_ADDRESS "
                                       "when that is set. Empty: a local Ray on this server.")
            session.remember("sweep:ray-address")
            problem = sweep_live.ray_problem(backend)
            if problem:
                ray_row[1].warning(problem)
        _cost_line()
        buttons = st.container(horizontal=True, vertical_alignment="center")  # wraps on a narrow screen
        active = page.job is not None and page.job.snapshot(touch=False).active
        buttons.button("Start sweep", type="primary", icon=":material/play_arrow:",
                       on_click=sweep_live.start, key="sweep:start")
        buttons.button("Stop", icon=":material/stop:", disabled=not active,
                       on_click=sweep_live.stop, key="sweep:stop")
        buttons.caption(f"On `{session.get().data.label}` (change it on the Data page).")
        if page.error:
            st.error(page.error)
        sweep_live.live_panel()


def _cost_line() -> None:
    """The trial count and core.budget's estimate, before Start (or what is wrong with the form)."""
    try:
        sweep_plan = sweep_live.plan()
        ds = data_loading.current_dataset()
        st.markdown(sweep_live.cost(sweep_plan, ds.n_samples, ds.n_features) if ds is not None
                    else sweep_plan.describe())
    except ValueError as error:
        st.caption(f"Not ready to start: {error}")


@st.cache_data(show_spinner="Baselines: PCA and NMF of the same rank ...", max_entries=16)
def _references(key: str, ranks: tuple, _record) -> list:
    dataset = stored_runs.dataset_of(_record)
    return analysis.reference_points(dataset.X, ranks, nmf=bool(dataset.non_negative))


def _shown_records(runs: list) -> list:
    """The saved sweeps picked to show, each with all its models' trials (the one that just ended, else the
    newest, by default)."""
    sweeps = frontier.groups_of(runs)  # every model of one sweep together, the newest sweep first
    snap = page.job.snapshot(touch=False) if page.job is not None else None
    wanted = [s for s in ([snap.group] if snap else []) if s in sweeps] or [next(iter(sweeps))]
    ss = st.session_state
    ss.setdefault("sweep:last_job_sweeps", wanted)  # not a widget: kept across pages
    session.persist("sweep:shown", wanted)
    if snap and not snap.active and wanted != ss["sweep:last_job_sweeps"]:  # a sweep ended: show it, once
        ss["sweep:shown"] = ss["sweep:last_job_sweeps"] = wanted
    ss["sweep:shown"] = [s for s in ss["sweep:shown"] if s in sweeps] or wanted
    labels = {sweep_id: sweep_views.sweep_label(records) for sweep_id, records in sweeps.items()}
    shown = st.multiselect("Sweeps to show", list(sweeps), key="sweep:shown", format_func=labels.get)
    session.remember("sweep:shown")
    return [r for s in shown for r in sweeps[s]]


def _baselines(records: list) -> list:
    if not st.session_state.get("sweep:refs", True):
        return []
    snap = page.job.snapshot(touch=False) if page.job is not None else None
    shown = {r.sweep for r in records}
    if snap is not None and snap.references and shown <= set(snap.sweep_ids):
        return snap.references
    by_data: dict[str, list] = {}  # sweeps on different data: each data set's own baselines
    for record in records:
        by_data.setdefault(stored_runs.data_key(record), []).append(record)
    references = []
    for key, same_data in by_data.items():
        ranks = tuple(sorted({int(r.n_components) for r in same_data if r.n_components}))
        data = frontier.data_of(same_data[0])
        try:
            points = _references(key, ranks, same_data[0])
        except Exception as error:  # noqa: BLE001 - the data cannot be loaded: no baselines
            st.caption(f"No baselines on {data}: {error}")
            continue
        references += [{**point, "data": data} for point in points]
    return references


def _failed(records: list, settings: list) -> list:
    """The failed trials (no weights, in no store) of this session's sweep when it is among those shown."""
    snap = page.job.snapshot(touch=False) if page.job is not None else None
    if snap is None or snap.group not in {frontier.group_of(r) for r in records}:
        return []
    return frontier.failed_rows(snap.rows, settings, page.job.dataset, page.job.data_options)


def results() -> None:
    run_store = stored_runs.store()
    saved = stored_runs.saved_runs(run_store)
    runs = [r for r in saved if r.sweep]
    st.subheader("Sparsity-fidelity frontier", anchor=False)
    if not runs:
        st.info("No sweeps saved yet: pick the settings and values above and press **Start sweep**.")
        return
    records = _shown_records(runs)
    if not records:
        st.info("Pick at least one sweep to show.")
        return
    settings = frontier.swept_params(records)
    rows = frontier.grid_order(frontier.trial_rows(records, settings), settings)  # as the pickers list them
    groups = frontier.aggregate(rows, settings)
    references = _baselines(records)
    beside = sweep_against.pick(run_store, saved, records)
    by_id = {r.id: r for r in records} | {r.id: r for r in saved if r.id in {b["run_id"] for b in beside}}
    names = {row["run_id"]: f"{frontier.setting_label(row, settings)} · seed {row['seed']}" for row in rows}
    names |= {row["run_id"]: sweep_against.label(row) for row in beside}
    metric_names = list(sweep_views.AXES)
    axes = st.columns([1, 1, 2.6])
    x = axes[0].selectbox("x axis", metric_names, key=session.persist_choice("sweep:x", metric_names, "l0"),
                          format_func=sweep_views.SHORT.get)
    y = axes[1].selectbox("y axis", metric_names, key=session.persist_choice("sweep:y", metric_names, "fvu"),
                          format_func=sweep_views.SHORT.get)
    session.remember("sweep:x", "sweep:y")
    axes[2].caption("One point per setting: the mean over its seeds, bars one standard deviation either way. "
                    "Ringed points and the dashed line: the Pareto front (no other setting is as good on both "
                    "and better on one).")
    chart_col, atoms_col = st.columns([1.15, 1], gap="large")
    with chart_col:
        action, partner = sweep_views.click_choice(names)
        event = st.plotly_chart(sweep_views.frontier_figure(groups, settings, x, y, references, beside, action),
                                key="sweep:plot", on_select="rerun", selection_mode="points",
                                config={"displayModeBar": False})
        points = [{**g, "run_id": g["run_ids"][0]} for g in groups] + beside
        sweep_views.pick_clicked(event, points, names, x, y, action, partner)
        st.caption("Hover a point for its setting and metrics; a click " + sweep_views.CLICK_ACTIONS[action]
                   + (f" {names.get(partner)}." if action == "compare" else "."))
    with atoms_col:
        sweep_views.run_panel(run_store, by_id, names)
    parallel, pictures, table = st.tabs(["Parallel coordinates", "Gallery", "Trials"])
    with parallel:
        st.plotly_chart(sweep_views.parallel_figure(rows, settings, y, beside), key="sweep:parallel",
                        config={"displayModeBar": False})
        left_out = sweep_views.parallel_left_out(beside, settings)
        st.caption(f"Every trial as a line through its settings, seed and metrics, coloured by {sweep_views.SHORT[y]}"
                   + (", and the runs beside the sweep, named on the 'run' axis" if beside else "")
                   + ". Drag along an axis to keep only the lines crossing that range."
                   + (f" Not here, as they lack a swept setting: {', '.join(left_out)}." if left_out else ""))
    with pictures:
        sweep_views.gallery_tab(run_store, groups, settings, by_id)
    with table:
        sweep_views.trials_tab(run_store, records, rows, settings, references, _failed(records, settings))


form()
results()
