"""Sweeps over a grid of parameters times seeds (issue 21): the trials, their seeds, every model (NMF and
PCA too), the baselines, and what a SweepJob records for each trial."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import datasets, models
from core.analysis.tables import training_seconds
from core.jobs.sweep import SweepJob
from core.metrics import evaluate
from core.states import FINISHED
from core.store import RunStore
from core.sweep import Sweep, SweepConfig

#: what every row of a SweepJob's snapshot holds
TRIAL_KEYS = ("model", "params", "seed", "mse", "fvu", "l0", "dead_fraction", "seconds", "device", "run_id")

BASE = {"n_components": 12, "max_steps": 30, "batch_size": 32, "learning_rate": 3e-3, "warmup_steps": 3,
        "device": "cpu", "log_every": 10}
#: the parameter swept for each kind of model: its sparsity, NMF's regularisation, PCA's rank
SWEPT = ("k", "l1_coef", "sparsity_target", "l0_coef", "alpha_W", "noise_level", "learning_rate", "n_components")
TINY = {"max_steps": 8, "batch_size": 32, "device": "cpu", "log_every": 4}


@pytest.fixture(scope="module")
def X():
    return datasets.load("digits", scale="minmax", n_samples=150, seed=0).X


def test_a_grid_times_seeds_makes_one_trial_per_grid_point_and_seed():
    config = SweepConfig("sae-topk", grid={"k": [2, 4], "n_components": [8, 16]}, seeds=[0, 1], base_params=BASE)
    sweep = Sweep(config)
    assert len(sweep.points) == 8 and sweep.batched
    got = {(p.grid_values["k"], p.grid_values["n_components"], p.seed) for p in sweep.points}
    assert got == {(k, n, s) for k in (2, 4) for n in (8, 16) for s in (0, 1)}
    for point in sweep.points:
        assert point.params["random_state"] == point.seed
        assert point.params["k"] == point.grid_values["k"] and point.params["max_steps"] == BASE["max_steps"]
        assert point.label == f"k={point.params['k']}, n_components={point.params['n_components']}, seed {point.seed}"
    # a batched stack holds the points of one shape and one seed (each seed its own minibatch stream)
    assert len(sweep.groups) == 4
    for group in sweep.groups:
        members = [sweep.points[i] for i in group]
        assert len({(p.params["n_components"], p.seed) for p in members}) == 1 and len(members) == 2


def test_the_one_parameter_form_is_a_one_parameter_grid():
    old = Sweep(SweepConfig("sae-topk", "k", [2, 4], {**BASE, "random_state": 3}))
    new = Sweep(SweepConfig("sae-topk", grid={"k": [2, 4]}, seeds=[3], base_params=BASE))
    assert [p.params for p in old.points] == [p.params for p in new.points]
    assert old.config.param == new.config.param == "k" and [p.value for p in new.points] == [2, 4]


def test_each_seed_trains_as_that_seed_alone_and_seeds_differ(X):
    sweep = Sweep(SweepConfig("sae-topk", grid={"k": [2, 4]}, seeds=[0, 1], base_params=BASE))
    sweep.run(X)
    by = {(p.params["k"], p.seed): p.estimator for p in sweep.points}
    assert all(p.status == FINISHED for p in sweep.points)
    assert not np.allclose(by[2, 0].components_, by[2, 1].components_)
    alone = models.create("sae-topk", **{**BASE, "k": 4, "random_state": 1}).fit(X)
    assert np.median(np.abs(by[4, 1].components_ - alone.components_)) < 1e-4  # seed 1's init and minibatches
    assert training_seconds(by[4, 1].history_) > 0  # a stacked point's history logs its time too


@pytest.mark.parametrize("model", models.available())
def test_every_model_sweeps_a_grid_times_seeds(model, X):
    allowed = models.default_params(model)
    param = next(name for name in SWEPT if name in allowed)
    values = {"k": [2, 3], "l1_coef": [1e-3, 1e-2], "sparsity_target": [0.05, 0.2], "l0_coef": [1e-3, 1e-2],
              "alpha_W": [0.0, 0.01], "noise_level": [0.1, 0.2], "learning_rate": [1e-3, 3e-3],
              "n_components": [4, 8]}[param]
    base = {name: value for name, value in {**TINY, "n_components": 8}.items() if name in allowed}
    sweep = Sweep(SweepConfig(model, grid={param: values}, seeds=[0, 1], base_params=base))
    assert sweep.batched == (models.family(model).batchable and param != "learning_rate")
    estimators = sweep.run(X)
    assert [p.status for p in sweep.points] == [FINISHED] * 4
    for point, estimator in zip(sweep.points, estimators):
        assert estimator.get_params()[param] == point.grid_values[param]
        assert estimator.get_params()["random_state"] == point.seed
        assert np.isfinite(evaluate(estimator, X[:50])["mse"])


def test_nmf_sweeps_its_regularisation_and_pca_its_rank(X):
    nmf = Sweep(SweepConfig("nmf", grid={"alpha_W": [0.0, 0.05], "l1_ratio": [0.0, 1.0]}, seeds=[0],
                            base_params={"n_components": 8, "max_steps": 40, "device": "cpu"}))
    assert not nmf.batched and "one after another" in nmf.notes[0]
    fitted = {(p.params["alpha_W"], p.params["l1_ratio"]): e for p, e in zip(nmf.points, nmf.run(X))}
    # an L1 penalty on W (l1_ratio 1) makes sparser atoms than none at all
    assert np.mean(fitted[0.05, 1.0].components_ == 0) > np.mean(fitted[0.0, 0.0].components_ == 0)
    pca = Sweep(SweepConfig("pca", grid={"n_components": [2, 6]}, base_params={"device": "cpu"}))
    first, second = pca.run(X)
    assert first.components_.shape[0] == 2 and evaluate(first, X)["mse"] > evaluate(second, X)["mse"]


@pytest.mark.parametrize("config, message", [
    (dict(grid={"k": [2], "n_components": [8], "auxk_coef": [0.1], "learning_rate": [1e-3]}), "at most 3"),
    (dict(grid={"random_state": [0, 1]}), "seeds"),
    (dict(grid={"k": [2]}, seeds=[]), "at least one seed"),
    (dict(grid={"k": [2]}, seeds=[1, 1]), "distinct"),
    (dict(grid={"k": [2, 4]}, seeds=[-1]), "distinct whole numbers"),
    (dict(grid={"k": [4, 16], "n_components": [8, 32]}), "k=16 is larger than n_components=8"),
    (dict(grid={"rho": [1]}), "no parameter 'rho'"),
    (dict(grid={"k": []}), "at least one value of k"),
])
def test_bad_grids_are_refused_naming_the_fix(config, message):
    with pytest.raises(ValueError, match=message):
        Sweep(SweepConfig("sae-topk", base_params=BASE, **config))


@pytest.fixture(scope="module")
def finished_job(X, tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    job = SweepJob(X, models_=["sae-topk"], grid={"k": [2, 4], "n_components": [8, 12]}, seeds=[0, 1],
                   base_params={"sae-topk": BASE}, store=store, dataset="digits", baselines=True,
                   reference_steps=20, processes=False, idle_timeout=math.inf).start()
    assert job.wait(300)
    return job, store


def test_a_sweep_job_saves_every_trial_with_its_seed_grid_values_and_seconds(finished_job):
    job, store = finished_job
    snap = job.snapshot()
    assert snap.state == "done" and snap.error is None and snap.grid == {"k": [2, 4], "n_components": [8, 12]}
    assert len(snap.rows) == 8 and snap.seeds == [0, 1]
    assert {(r["k"], r["n_components"], r["seed"]) for r in snap.rows} == {
        (k, n, s) for k in (2, 4) for n in (8, 12) for s in (0, 1)}
    for row in snap.rows:
        assert set(TRIAL_KEYS) <= set(row)
        assert row["params"]["random_state"] == row["seed"] and row["device"] == "cpu"
        assert isinstance(row["seconds"], float) and row["seconds"] > 0
        record = store.get(row["run_id"])
        assert record.params["random_state"] == row["seed"] and record.params["k"] == row["k"]
        assert record.extra["seed"] == row["seed"]
        assert record.extra["sweep_grid"] == {"k": row["k"], "n_components": row["n_components"]}
        assert record.metrics["seconds"] == pytest.approx(row["seconds"])
        assert training_seconds(store.load_history(record.id)) is not None  # the runs table's training time
    assert len(store.list_runs(sweep=snap.sweep_ids[0])) == 8


def test_baselines_are_pca_and_nmf_at_every_size_of_the_grid(finished_job, X):
    job, _ = finished_job
    references = job.snapshot().references
    assert sorted((r["model"], r["n_components"]) for r in references) == [
        ("nmf", 8), ("nmf", 12), ("pca", 8), ("pca", 12)]
    pca8 = next(r for r in references if r["model"] == "pca" and r["n_components"] == 8)
    fitted = models.create("pca", n_components=8, device="cpu").fit(X)
    assert pca8["fvu"] == pytest.approx(evaluate(fitted, X)["fvu"], rel=1e-3)


def test_baselines_without_a_size_in_the_grid_use_the_base_size(X):
    job = SweepJob(X, models_=["sae-l1"], grid={"l1_coef": [1e-3]}, base_params={"sae-l1": {**BASE, "max_steps": 5}},
                   baselines=True, reference_steps=5, processes=False)
    assert job.baseline_ranks() == [12]
