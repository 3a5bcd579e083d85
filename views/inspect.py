"""Inspect: one saved run up close. A feature (``ui.feature_card``: its atom, examples, neighbours, classes,
an edit of it, its density over training, and on data with texts its texts, keywords and a search), a
sample (the mean plus its top weighted atoms), and nearest-neighbour recognition in code space on labelled
data sets."""

from __future__ import annotations

import threading
import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import analysis, metrics, models, render
from core.jobs import call_in_worker
from ui import downloads, feature_card, look, session, stored_curve, stored_runs

st.header("Inspect")
st.caption("Look inside one saved run: what a feature responds to, how a sample is built from atoms, and how "
           "well the codes recognise labelled samples.")
RECOGNITION_KEY = "_inspect_recognition"
RECOGNITION_SECONDS_KEY = "_inspect_recognition_seconds"  # per run: how long its last measurement took
PROGRESS_EVERY = 0.25  # seconds between two redraws of the recognition's progress bar
# 1,000 SAE steps on 2 CPU cores: 15 s as issue 16 reports it, 29-43 s measured beside other runs; the SAE
# takes most of it (PCA under 1 s, NMF about 3 s), then starting the process
TYPICAL_COST = "on a CPU about 15-45 s (digits or faces, 1,000 SAE steps), most of it the SAE"
REFIT_MAX_STEPS = 1000
SMALL = feature_card.SMALL


@st.cache_resource(show_spinner=False, max_entries=16)
def _features(run_id: str, updated_at: float, _loaded) -> list:
    return analysis.feature_table(_loaded.codes, _loaded.model.components_,
                                  metrics.activity_threshold(_loaded.model))


def sample_tab(run) -> None:
    n, m = run.X.shape[0], run.codes.shape[1]
    cols = st.columns([1, 2])
    sample = int(cols[0].number_input("Sample", 0, n - 1, key=session.persist_choice("inspect:sample", range(n), 0),
                                      help=f"Which sample (0 to {n - 1})."))
    if m > 1:
        n_top = int(cols[1].slider("Top atoms", 1, min(16, m),
                                   key=session.persist_choice("inspect:top", range(1, min(16, m) + 1), min(6, m))))
    else:  # a slider from 1 to 1 is refused
        n_top = 1
        cols[1].caption("This run has one atom: the sample is built from it alone.")
    session.remember("inspect:sample", "inspect:top")
    parts = analysis.decompose_sample(run.model, run.X[sample], n_top)
    shape, scale = run.image_shape, look.tile_scale(run.image_shape, 72)
    k = len(parts.indices)
    cmap = "gray" if getattr(run.dataset, "non_negative", False) else "auto"
    # what the atoms are added to: PCA's mean, an autoencoder's decoder bias, or nothing (NMF, NNSAE)
    base = None if not parts.base.any() else "the mean" if not models.family(run.record.model).iterative \
        else "the decoder bias"
    names = ["original", base.removeprefix("the ") if base else "no bias (zero)", f"+ top {k} atoms",
             "full reconstruction"]
    # one colour scale for the four: a dimmer reconstruction looks dimmer, a zero base looks like zero
    picture = render.sample_grid(np.stack([run.X[sample], parts.base, parts.partial[-1], parts.reconstruction]),
                                 shape, columns=4 if shape else 1, scale=scale, cmap=cmap, normalize="global",
                                 padding=4, background=(255, 255, 255))
    st.columns([2, 1])[0].image(picture, caption=" · ".join(names) + (" (one colour scale)" if shape else
                                                                             " (top to bottom, one colour scale)"),
                                width="stretch")
    st.caption(f"Sample {sample} = " + (f"{base} + the weighted atoms" if base else
                                        "the weighted atoms (this model adds no mean or bias)")
               + f"; {parts.n_active} {'atom is' if parts.n_active == 1 else 'atoms are'} active. "
               f"MSE with the top {k}: {parts.errors()[-1]:.4g}, with all: "
               f"{float(np.mean((parts.reconstruction - parts.original) ** 2)):.4g}.")
    if k == 0:
        st.info("No atom is active on this sample: the reconstruction is "
                + (f"{base} alone." if base else "zero."))
        return
    atoms_col, bars_col = st.columns([1.3, 1], gap="large")
    with atoms_col:
        st.markdown("**Its top atoms, with their weights**")
        for start in range(0, k, 6):
            for col, j, w, atom in zip(st.columns(6), parts.indices[start:start + 6], parts.weights[start:start + 6],
                                       parts.atoms[start:start + 6]):
                col.image(render.atom_grid(atom[None, :], shape, scale=scale), caption=f"#{j}: {w:+.2f}",
                          width="stretch")
    with bars_col:
        fig = go.Figure(go.Bar(x=[f"#{j}" for j in parts.indices], y=parts.weights,
                               marker={"color": ["#e15759" if w > 0 else "#4e79a7" for w in parts.weights]}))
        fig.update_layout(title={"text": "Weights (code × atom norm)", "font": {"size": 13}},
                          xaxis={"title": "atom", "type": "category"}, yaxis={"title": "weight"}, **SMALL)
        st.plotly_chart(fig, key="inspect:weights-chart", config={"displayModeBar": False})


def _request_recognition() -> None:
    st.session_state["inspect:recognise"] = True


def _estimators(run) -> tuple[dict, dict]:
    """PCA, NMF and an SAE of the run's size (the run's own model where it is one of those), refitted; and
    per model, which it is in words (the run's own settings, or the SAE chosen for a run that is not one)."""
    record, n = run.record, run.codes.shape[1]
    family = models.family(record.model)
    allowed = models.default_params(record.model)
    own = {k: v for k, v in record.params.items() if k in allowed}
    if "max_steps" in own:
        own["max_steps"] = min(int(own["max_steps"]), REFIT_MAX_STEPS)
    settings = "this run's settings"
    is_pca = not family.iterative  # the closed-form model is PCA
    chosen = {"PCA": models.create("pca", **(own if is_pca else {"n_components": n}))}
    words = {"PCA": settings if is_pca else ""}
    if run.dataset.non_negative:
        chosen["NMF"] = models.create("nmf", **(own if family.factorisation else
                                                {"n_components": n, "max_steps": 200, "random_state": 0}))
        words["NMF"] = settings if family.factorisation else ""
    chosen["SAE"] = models.create(record.model, **own) if family.sae else models.create(
        "sae-topk", n_components=n, k=min(8, n), max_steps=500, random_state=0)
    words["SAE"] = f"{record.model}, {settings}" if family.sae else f"sae-topk, k = {min(8, n)}"
    if family.autoencoder and not family.sae:
        chosen[f"this run ({record.model})"] = models.create(record.model, **own)
        words[f"this run ({record.model})"] = settings
    return chosen, words


def _cost(run, estimators: dict, words: dict, test_fraction: float, seconds: float | None) -> str:
    """What pressing the button costs: the models fitted (which, and how many steps), on how many samples,
    and how long that takes (measured: the last time on this run, else the typical range)."""
    used, n_train, _ = analysis.recognition_sizes(run.X.shape[0], test_fraction)
    subset = f" (of a random {used:,} of the run's {run.X.shape[0]:,} samples)" if used < run.X.shape[0] else ""

    def described(name, model) -> str:
        parts = [words.get(name, "")] + ([f"{model.max_steps:,} steps"] if hasattr(model, "fit_iter") else [])
        parts = [part for part in parts if part]
        return f"{name} ({', '.join(parts)})" if parts else name

    fits = ", ".join(described(name, model) for name, model in estimators.items())
    took = f"the last measurement on this run took {seconds:,.0f} s" if seconds is not None else TYPICAL_COST
    return f"Fits {fits} on {n_train:,} training samples{subset}, in a training process of its own: {took}."


def _measure(run, estimators: dict, labels, test_fraction: float, results: dict, took: dict) -> None:
    """Recognition in a worker process (so the server's other sessions stay live), with a progress bar fed
    by the worker's reports; the result and its time go to ``results`` and ``took``."""
    told = {"fraction": 0.0, "text": "Starting a training process"}
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["rows"] = call_in_worker(analysis.recognition, estimators, run.X, labels,
                                             test_fraction=test_fraction,
                                             on_progress=lambda fraction, text: told.update(fraction=fraction,
                                                                                            text=text))
        except Exception as error:  # noqa: BLE001 - core's message, shown below
            outcome["error"] = str(error)

    started = time.monotonic()
    bar = st.progress(0.0, text=told["text"])
    worker = threading.Thread(target=work, name="inspect-recognition", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(PROGRESS_EVERY)
        bar.progress(told["fraction"], text=f"{told['text']} · {time.monotonic() - started:,.0f} s")
    bar.empty()
    if "error" in outcome:
        st.error(outcome["error"])
        return
    results[(run.record.id, test_fraction)] = outcome["rows"]
    took[run.record.id] = time.monotonic() - started


def recognition_tab(run) -> None:
    labels = run.labels
    if labels is None:
        st.info("This data set has no labels, so there is nothing to recognise. Pick a run on digits, faces "
                "with include_non_faces (face or not), olivetti or mnist.")
        return
    st.caption("The eigenfaces recipe: fit each model on the training samples, code every sample, and give each "
               "test sample the label of its nearest training sample in code space (Euclidean).")
    cols = st.columns([1, 1, 2], vertical_alignment="bottom")
    test_fraction = cols[0].slider("Test fraction", 0.1, 0.5, step=0.05, key=session.persist("inspect:test", 0.25))
    session.remember("inspect:test")
    cols[1].button("Measure recognition", type="primary", on_click=_request_recognition, key="inspect:run-recognition",
                   icon=":material/play_arrow:")
    results = st.session_state.setdefault(RECOGNITION_KEY, {})
    took = st.session_state.setdefault(RECOGNITION_SECONDS_KEY, {})
    key = (run.record.id, float(test_fraction))
    estimators, words = _estimators(run)
    if st.session_state.pop("inspect:recognise", False):
        _measure(run, estimators, labels, float(test_fraction), results, took)
    rows = results.get(key)
    cols[2].caption(_cost(run, estimators, words, float(test_fraction), took.get(run.record.id)))
    if rows is None:
        return
    rows = [{**row, "note": row["note"] or words.get(row["model"], "")} for row in rows]  # which model each is
    fig = go.Figure(go.Bar(x=[r["model"] for r in rows], y=[r["accuracy"] for r in rows],
                           text=[f"{r['accuracy']:.1%}" if r["accuracy"] == r["accuracy"] else "–" for r in rows],
                           textposition="outside", marker={"color": "#4e79a7"}))
    fig.update_layout(yaxis={"title": "1-NN accuracy on the test samples", "range": [0, 1.1], "tickformat": ".0%"},
                      **{**SMALL, "height": 300})
    left, right = st.columns([1, 1.2], gap="large")
    with left:
        st.plotly_chart(fig, key="inspect:recognition", config={"displayModeBar": False})
    with right:
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={"accuracy": st.column_config.NumberColumn(format="percent")})
        downloads.csv_button(rows, "Recognition table (CSV)", f"{downloads.file_stem(run.record.name)}-recognition.csv",
                           key="inspect:recognition-csv")


def inspect() -> None:
    run_store = stored_runs.store()
    runs = stored_runs.saved_runs(run_store)
    if not runs:
        st.info("No saved runs yet. Train a model on the **Train** page, press **Train NMF and SAE side by side** "
                "on **Compare**, or run a **Sweep**: finished runs are saved and can be inspected here.")
        return
    labels = {r.id: f"{stored_runs.run_label(r)} · {stored_runs.data_label(r)}" for r in runs}
    run_id = st.selectbox("Run", list(labels), key=session.persist_choice("inspect:run", labels, runs[0].id),
                          format_func=labels.get)
    session.remember("inspect:run")
    run = stored_runs.load_run(run_store, next(r for r in runs if r.id == run_id))
    if run is None:
        return
    if run.subset_note:
        st.caption(run.subset_note)
    feature, sample, recognition, training = st.tabs(["Feature", "Sample", "Recognition", "Training"])
    with feature:
        feature_card.feature_card(run, run_store, _features(run.record.id, run.record.updated_at, run))
    with sample:
        sample_tab(run)
    with recognition:
        recognition_tab(run)
    with training:  # its loss curve, with the knobs moved during the run
        stored_curve.training_curve(run_store, run)
    st.markdown("**Export**")
    stem = downloads.file_stem(run.record.name)
    # the buttons in rows of two across the page: in a third of it (a projector's 1024 px) their labels were cut
    scale = downloads.grid_scale_slider("inspect:scale", container=st.columns(3)[0])
    session.remember("inspect:scale")
    downloads.atoms_buttons(run.model.components_, run.image_shape, stem, key="inspect:atoms", scale=scale)
    cols = st.columns(2)
    with cols[0]:
        downloads.weights_button(run_store, run.record, key="inspect:weights", label="Weights (safetensors)")
    with cols[1]:
        downloads.csv_button(_features(run.record.id, run.record.updated_at, run), "Feature table (CSV)",
                           f"{stem}-features.csv", key="inspect:features-csv")
    if models.family(run.record.model).sae:  # the SAE in SAELens' and sparsify's layouts
        downloads.run_sae_format_buttons(run_store, run.record, key="inspect:sae-formats")


inspect()
