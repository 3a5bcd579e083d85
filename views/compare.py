"""Compare: two runs on the same data side by side (atoms paired one to one, metrics, reconstructions),
or NMF and an SAE of the same size trained side by side, live, on the current data set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import analysis, models
from core.jobs import call_in_worker
from ui import compare_live, data_loading, downloads, lessons, look, session, stored_runs, typed_input

#: pixels of each run's box: a whole run label side by side at 1280 px, one above the other at 1024 and 800
RUN_BOX_WIDTH = 380

page = compare_live.get()
st.header("Compare")
st.caption("NMF parts next to SAE atoms: each atom of the left run is paired with one atom of the right run "
           "by absolute cosine (Hungarian matching), best pairs first.")
lessons.lesson_box("compare")

# -- train NMF and an SAE side by side ----------------------------------------------------------------------
with (st.expander("Train NMF and an SAE side by side (not this lesson's runs)") if lessons.panel_aside()
      else st.container(border=True)):
    ds = data_loading.current_dataset()
    truth_n = len(ds.truth) if ds is not None and ds.truth is not None else None
    st.markdown(f"**Train NMF and an SAE side by side** on the current data set "
                f"(`{session.get().data.label}`; change it on the Data page)")
    cols = st.columns([1, 1.3, 1, 1.3], vertical_alignment="bottom")
    n_atoms = cols[0].number_input("Atoms (both runs)", 2, 256, key=session.persist("compare:n", truth_n or 16),
                                   help="NMF and the SAE get this many atoms"
                                        + (f" (the data set has {truth_n} true atoms)." if truth_n else "."))
    sae_models = models.sae_models()
    sae_model = cols[1].selectbox("SAE model", sae_models, key=session.persist_choice(
        "compare:sae", sae_models, session.DEFAULT_MODEL))
    k = None
    if "k" in models.default_params(sae_model):
        k = cols[2].number_input("k (active codes)", 1, 256, key=session.persist("compare:k", min(8, int(n_atoms))))
    steps = cols[3].select_slider("Steps (both runs)", look.STEP_CHOICES,
                                  key=session.persist_choice("compare:steps", look.STEP_CHOICES, 500))
    session.remember("compare:n", "compare:sae", "compare:k", "compare:steps")  # kept for the next visit
    if k is not None and k > n_atoms:  # compare_live.sae_params caps it
        st.caption(f"k is at most the number of atoms: the SAE trains with k = {int(n_atoms)}.")
    lesson_note = lessons.panel_note(sae_model)
    if lesson_note:
        st.caption(f":material/school: {lesson_note}")
    buttons = st.container(horizontal=True)  # whole labels on a narrow screen: the row wraps instead
    buttons.button("Train NMF and SAE side by side", type="primary", icon=":material/play_arrow:",
                   key="compare:train", on_click=compare_live.start_from_widgets,
                   disabled=ds is None, help=None if ds is not None else "No data set is loaded: see below.")
    buttons.button("Stop", icon=":material/stop:", disabled=not page.active,
                   on_click=compare_live.stop, key="compare:stop")
    if page.error:
        st.error(page.error)
    elif ds is None:
        st.error(session.get().data_error or "No data set is loaded: choose one on the Data page.")
    compare_live.live_panel()


# A saved run changes only when its record's updated_at does: results are cached by (run id, updated_at), so a
# rerun (each keystroke in "Samples to reconstruct") recomputes nothing for the same two runs.
@st.cache_resource(show_spinner=False, max_entries=16)
def _metrics(run_id: str, updated_at: float, _loaded, _run_store):
    truth = getattr(_loaded.dataset, "truth", None)
    return analysis.run_metrics(_loaded.model, _loaded.X, truth=truth, seconds=_seconds(_run_store, _loaded.record),
                                codes=_loaded.codes)


@st.cache_resource(show_spinner=False, max_entries=16)
def _pairing(left_key: tuple, right_key: tuple, labels: tuple, _left, _right):
    """The atoms paired one to one and their picture; the keys are (run id, updated_at)."""
    pairs = analysis.pair_atoms(_left.model.components_, _right.model.components_)
    picture = analysis.comparison_image(_left.model.components_, _right.model.components_, _left.image_shape,
                                        pairs=pairs, labels=labels, scale=look.tile_scale(_left.image_shape))
    return pairs, picture


@st.cache_resource(show_spinner=False, max_entries=32)
def _reconstructions(left_key: tuple, right_key: tuple, chosen: tuple, titles: tuple, _left, _right):
    """The chosen samples and both runs' reconstructions of them in one picture, on one colour scale (NMF
    codes each sample anew: 50 ms for a few)."""
    rows = _left.X[list(chosen)]
    return analysis.reconstruction_image(rows, {titles[0]: _left.model.reconstruct(rows),
                                                titles[1]: _right.model.reconstruct(rows)}, _left.image_shape,
                                         scale=look.tile_scale(_left.image_shape))


@st.cache_data(show_spinner="Principal components of the data ...", max_entries=16)
def _pca_angle(run_id: str, updated_at: float, _run) -> float:
    """The largest principal angle between the run's atoms and the top principal components (an SVD of
    the data: seconds on 10,000 x 784)."""
    atoms = _run.model.components_
    return analysis.subspace_angle(atoms, analysis.top_principal_components(_run.X, atoms.shape[0]))


def _seconds(run_store, record):
    seconds = record.metrics.get("seconds")
    if seconds is None:
        try:
            seconds = analysis.training_seconds(run_store.load_history(record.id))
        except Exception:  # noqa: BLE001 - a missing history only blanks one cell
            seconds = None
    return seconds


# -- pick two saved runs on the same data -----------------------------------------------------------------
def compare_saved() -> None:
    run_store = stored_runs.store()
    runs = stored_runs.saved_runs(run_store)
    st.subheader("Two saved runs", anchor=False)
    if not runs:
        st.info("No saved runs yet. Press **Train NMF and SAE side by side** above, train on the **Train** page, "
                "or run a sweep: finished runs are saved and appear here.")
        return

    groups: dict[str, list] = {}
    for record in runs:  # newest first, so the first group is the data of the newest run
        groups.setdefault(stored_runs.data_key(record), []).append(record)
    by_id = {record.id: record for record in runs}
    if page.select and all(run_id in by_id for run_id in page.select):
        left_id, right_id = page.select
        st.session_state["compare:data"] = stored_runs.data_key(by_id[left_id])
        st.session_state["compare:left"], st.session_state["compare:right"] = left_id, right_id
        page.select = None
    data_key = session.persist_choice("compare:data", groups, next(iter(groups)))
    # the data set on a row of its own, the two runs below in a row that wraps: a run's label ('model on data
    # · date · #id') stays whole at a projector's 1024 px (in three columns it was cut to 'sae-topk on upl')
    key = st.selectbox("Data set", list(groups), key=data_key,
                       format_func=lambda k: f"{stored_runs.data_label(groups[k][0])} · {len(groups[k])} "
                                             f"run{'s' if len(groups[k]) > 1 else ''}")
    group = groups[key]
    ids = [record.id for record in group]

    def _default(predicate, avoid=None) -> str:
        fallback = next((i for i in ids if i != avoid), ids[0])
        return next((r.id for r in group if predicate(r) and r.id != avoid), fallback)

    lesson_picks = lessons.saved_picks(group)  # an open lesson's two runs, once both are saved
    left_key = session.persist_choice("compare:left", ids, lesson_picks[0] if lesson_picks else
                                      _default(lambda r: models.family(r.model).factorisation))
    right_key = session.persist_choice("compare:right", ids, lesson_picks[1] if lesson_picks else
                                       _default(lambda r: models.family(r.model).sae, avoid=st.session_state[left_key]))
    label_of = {record.id: stored_runs.run_label(record) for record in group}
    pick = st.container(horizontal=True)
    left_id = pick.selectbox("Left run", ids, key=left_key, format_func=label_of.get, width=RUN_BOX_WIDTH)
    right_id = pick.selectbox("Right run", ids, key=right_key, format_func=label_of.get, width=RUN_BOX_WIDTH)
    session.remember(data_key, left_key, right_key)
    if len(group) < 2:
        st.info("Only one run is saved on this data set; train another (e.g. with the button above) to compare.")
        return
    if left_id == right_id:  # a run paired with itself would show a perfect match that says nothing
        st.info("The left and the right run are the same run: pick another run on one side to compare two.")
        return
    left_record, right_record = by_id[left_id], by_id[right_id]
    left, right = stored_runs.load_run(run_store, left_record), stored_runs.load_run(run_store, right_record)
    if left is None or right is None:
        return

    names = (f"{left_record.name} ({left_record.model})", f"{right_record.name} ({right_record.model})")
    pairs, picture = _pairing((left_record.id, left_record.updated_at), (right_record.id, right_record.updated_at),
                              names, left, right)
    summary = st.columns(4)
    summary[0].metric("Matched pairs", pairs.n_pairs)
    summary[1].metric("Mean |cos| of pairs", f"{pairs.mean_similarity:.2f}")
    summary[2].metric("Pairs with |cos| ≥ 0.8", int(np.sum(pairs.similarity >= 0.8)))
    summary[3].metric("Unmatched", len(pairs.left_unmatched) + len(pairs.right_unmatched))
    lessons.measured_pair(left, right)

    st.image(picture, width=look.picture_width(picture), output_format="PNG",  # JPEG would smear the colours
             caption="Each cell: left atom | right atom, with their |cos| below (green when ≥ 0.8); unmatched atoms "
                     "last. Both sides use one colour map (red and blue about white at zero when any value is "
                     "negative), each atom scaled on its own; a right atom whose cosine to its partner is negative is "
                     "drawn negated (the pairing ignores the sign), so that a matched pair looks alike.")
    stem = downloads.file_stem(left_record.name, "vs", right_record.name)

    # -- metrics ------------------------------------------------------------------------------------------------
    METRICS = [("MSE", "mse", "{:.4g}"), ("FVU", "fvu", "{:.4f}"), ("L0 (active codes per sample)", "l0", "{:.2f}"),
               ("Dead fraction", "dead_fraction", "{:.1%}"), ("Hoyer sparseness of atoms", "hoyer_atoms", "{:.3f}"),
               ("Hoyer sparseness of codes", "hoyer_codes", "{:.3f}"), ("Training time (s)", "seconds", "{:.1f}"),
               ("MMCS vs ground truth", "mmcs", "{:.3f}")]
    values = [_metrics(r.record.id, r.record.updated_at, r, run_store) for r in (left, right)]
    table = [{"metric": label, "left": values[0].get(key_), "right": values[1].get(key_)} for label, key_, _ in METRICS]
    if values[0].get("mmcs") is None and values[1].get("mmcs") is None:
        table = table[:-1]
    shown = {row["metric"]: ["–" if row[side] is None else fmt.format(row[side]) for side in ("left", "right")]
             for row, (_, _, fmt) in zip(table, METRICS)}
    metrics_col, recon_col = st.columns([1.4, 1], gap="large")
    with metrics_col:
        st.markdown("**Metrics**")
        # a static table: its headers wrap, so the runs' full names are read whole (a data grid cuts them off)
        st.table(pd.DataFrame.from_dict(shown, orient="index",
                                        columns=[f"Left run: {names[0]}", f"Right run: {names[1]}"]))
        if left.subset_note:  # both runs are on the same data, so on the same subset
            st.caption(left.subset_note)

    # -- reconstructions ----------------------------------------------------------------------------------------------
    with recon_col:
        st.markdown("**Reconstructions**")
        n = left.X.shape[0]
        default = ", ".join(str(i) for i in np.linspace(0, n - 1, min(6, n)).astype(int))
        samples_key = session.persist("compare:samples", default)
        typed_for = session.persist("compare:samples-data", key)
        if st.session_state[typed_for] != key:  # another data set: its own samples, not the old set's numbers
            st.session_state[samples_key], st.session_state[typed_for] = default, key
        text = st.text_input("Samples to reconstruct", key=samples_key,
                             help=f"Sample numbers from 0 to {n - 1}, separated by commas (at most 12).")
        session.remember(samples_key, typed_for)
        try:
            chosen = typed_input.parse_indices(text, n)
        except ValueError as error:
            st.error(str(error))
            chosen = []
        if chosen:
            titles = ((left_record.model, right_record.model) if left_record.model != right_record.model
                      else (f"{left_record.model} (left)", f"{right_record.model} (right)"))
            recon = _reconstructions((left_record.id, left_record.updated_at),
                                     (right_record.id, right_record.updated_at), tuple(chosen), titles, left, right)
            # its own size ("content" would stretch a small one to the column); a wide one fits the column
            st.image(recon, width="stretch" if recon.width > 320 else recon.width, output_format="PNG",
                     caption=f"Samples {', '.join(map(str, chosen))}: the original, then the reconstruction by "
                             f"the left run, {names[0]}, and by the right run, {names[1]}. One colour scale for "
                             "all three columns: a value has the same colour in each.")

    # -- linear AE vs PCA ------------------------------------------------------------------------------------------------
    linear = [r for r in (left, right) if models.family(r.record.model).linear_autoencoder]
    if linear:
        run = linear[0]
        st.markdown("**Linear AE vs PCA: the angle between its atoms' span and the top principal components**")
        traces = st.session_state.setdefault("_compare_traces", {})
        st.button("Trace the angle over training (re-fits the run with its settings)", key="compare:trace",
                  on_click=lambda: st.session_state.update({"compare:trace-requested": True}))
        if st.session_state.pop("compare:trace-requested", False):
            with st.spinner("Re-fitting the linear autoencoder ..."):
                try:
                    params = {k: v for k, v in run.record.params.items() if k in models.default_params("linear-ae")}
                    traces[run.record.id] = call_in_worker(analysis.subspace_trace,  # trains: in a worker
                                                           models.create("linear-ae", **params), run.X)
                except Exception as error:  # noqa: BLE001 - core's message
                    st.error(str(error))
        trace = traces.get(run.record.id)
        now = _pca_angle(run.record.id, run.record.updated_at, run)
        st.caption(f"Now: largest principal angle {now:.1f}° to the top {run.model.components_.shape[0]} PCs. "
                   "Gradient descent learns the components one after another, largest variance first "
                   "(Refinetti & Goldt).")
        if trace is not None:
            fig = go.Figure()
            for i in range(trace.n_components):
                fig.add_trace(go.Scatter(x=trace.steps, y=trace.pc_angles[:, i], mode="lines", name=f"PC {i + 1}",
                                         line={"width": 1.2}))
            fig.add_trace(go.Scatter(x=trace.steps, y=trace.angle, mode="lines", name="largest angle",
                                     line={"width": 3, "color": "#111827"}))
            fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                              xaxis={"title": "step"}, yaxis={"title": "angle to the atoms' span (°)", "range": [0, 92]})
            st.plotly_chart(fig, key="compare:angles")
            st.download_button("Angles over training (CSV)", analysis.rows_to_csv(
                [{"step": int(s), "largest angle": float(a), **{f"PC {i + 1}": float(v) for i, v in enumerate(row)}}
                 for s, a, row in zip(trace.steps, trace.angle, trace.pc_angles)]),
                file_name=f"{downloads.file_stem(run.record.name)}-pca-angles.csv", mime="text/csv",
                key="compare:angles-csv", on_click="ignore", icon=":material/table:")

    with st.expander("Pairs table"):
        st.dataframe(pairs.table(), hide_index=True, width="stretch")

    # -- export ---------------------------------------------------------------------------------------------------------------
    st.markdown("**Export**")
    row1 = st.columns(3)
    with row1[0]:
        downloads.png_button(picture, "Comparison (PNG)", f"{stem}-comparison.png", key="compare:png")
    with row1[1]:
        # the sides in the column names: two runs may have the same name (and model)
        downloads.csv_button([{"metric": r["metric"], f"left: {names[0]}": r["left"],
                               f"right: {names[1]}": r["right"]} for r in table],
                           "Metrics table (CSV)", f"{stem}-metrics.csv", key="compare:csv")
    with row1[2]:
        downloads.csv_button(pairs.table(), "Pairs table (CSV)", f"{stem}-pairs.csv", key="compare:pairs-csv")
    same_name = left_record.name == right_record.name  # then the side tells the two sides' files apart
    for side, run in (("left", left), ("right", right)):
        st.caption(f"{side.capitalize()}: {names[0 if side == 'left' else 1]}")
        side_stem = downloads.file_stem(run.record.name, side) if same_name else downloads.file_stem(run.record.name)
        # two buttons a row across the page: in two thirds of it (1024 px) their labels were cut
        downloads.atoms_buttons(run.model.components_, run.image_shape, side_stem,
                                key=f"compare:{side}", what=f"{side} atoms")
        with st.columns(2)[0]:
            downloads.weights_button(run_store, run.record, key=f"compare:{side}:weights",
                                   label=f"{side.capitalize()} weights (safetensors)", stem=side_stem)


compare_saved()
