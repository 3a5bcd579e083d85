"""The Ray backend of sweeps (issue 21), on a local Ray cluster: the same trials and metrics as the local
backend, saved to the run store; Stop cancels the queued groups and ends the running ones with their
weights so far; a failing trial is reported while the others finish; and a clear message without Ray."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import time

import pytest

from core import datasets
from core.cli import main
from core.jobs.sweep import SweepJob
from core.store import RunStore

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray is not installed (make run leaves it out; make test installs it)")
BASE = {"n_components": 8, "max_steps": 20, "batch_size": 32, "learning_rate": 3e-3, "device": "cpu", "log_every": 5}


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # one local cluster for every test here
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def X():
    return datasets.load("digits", scale="minmax", n_samples=150, seed=0).X


def sweep(X, backend: str, **options) -> SweepJob:
    settings = dict(models_=["sae-topk"], grid={"k": [2, 4]}, seeds=[0, 1], base_params={"sae-topk": BASE},
                    baselines=False, processes=False, idle_timeout=math.inf)  # nobody reads it while it trains
    job = SweepJob(X, backend=backend, **{**settings, **options}).start()
    assert job.wait(300)
    return job


@needs_ray
def test_ray_trains_the_same_trials_as_the_local_backend_and_saves_them(ray_cluster, X, tmp_path):
    store = RunStore(tmp_path / "runs")
    on_ray = sweep(X, "ray", store=store, dataset="digits").snapshot()
    here = sweep(X, "local").snapshot()
    assert on_ray.state == "done" and on_ray.error is None and on_ray.backend == "ray"
    local = {(r["k"], r["seed"]): r for r in here.rows}
    assert len(on_ray.rows) == 4 and {(r["k"], r["seed"]) for r in on_ray.rows} == set(local)
    for row in on_ray.rows:
        same = local[row["k"], row["seed"]]
        for metric in ("mse", "fvu", "l0", "dead_fraction"):
            assert row[metric] == pytest.approx(same[metric], rel=1e-5, abs=1e-7), (metric, row, same)
        assert row["status"] == "finished" and row["seconds"] > 0 and row["device"] == "cpu"
        record = store.get(row["run_id"])
        assert record.params["random_state"] == row["seed"] and record.extra["sweep_grid"] == {"k": row["k"]}
        assert len(store.load_history(record.id)) == BASE["max_steps"] // BASE["log_every"]
        assert store.load_model(record.id).transform(X).shape == (len(X), BASE["n_components"])


@needs_ray
def test_stop_cancels_the_queued_groups_and_keeps_the_running_ones_so_far(ray_cluster, X):
    # four groups (one per size), two CPUs: two run, two wait in Ray's queue
    job = SweepJob(X, models_=["sae-topk"], grid={"n_components": [8, 12, 16, 20]},
                   base_params={"sae-topk": {**BASE, "k": 2, "max_steps": 100_000, "log_every": 50}},
                   baselines=False, processes=False, backend="ray", idle_timeout=math.inf).start()
    deadline = time.monotonic() + 120
    while job.snapshot().progress == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.snapshot().progress > 0, "no progress came back from the Ray tasks"
    job.stop()
    assert job.wait(60), "Stop did not end the sweep"
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.error is None
    assert 1 <= len(snap.rows) <= 2 and all(r["status"] == "stopped" for r in snap.rows)  # the running ones
    steps = [p.estimator.n_steps_ for p in job.sweeps[0].points if p.estimator is not None]
    assert steps and all(0 < s < 100_000 for s in steps)
    assert sum(p.status == "skipped" for p in job.sweeps[0].points) >= 2  # the queued ones never ran


@needs_ray
def test_a_failing_trial_is_reported_and_the_others_finish(ray_cluster, X, capsys):
    status = main(["sweep", "--data", "digits", "--data-option", "scale=minmax", "--n-samples", "150",
                   "--model", "pca", "--grid", "n_components=100,4,6", "--backend", "ray"])
    *trials, summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 1 and summary["backend"] == "ray" and (summary["trials"], summary["failed"]) == (3, 1)
    by_size = {t["params"]["n_components"]: t for t in trials}
    assert by_size[100]["status"] == "failed" and "n_components=100 is more than" in by_size[100]["error"]
    assert by_size[4]["status"] == by_size[6]["status"] == "finished" and by_size[4]["mse"] > by_size[6]["mse"]


def test_without_ray_the_ray_backend_is_refused_saying_how_to_install_it(X, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as in a `make run` environment
    with pytest.raises(ImportError, match="pip install .*ray"):
        SweepJob(X, models_=["sae-topk"], grid={"k": [2]}, base_params={"sae-topk": BASE}, backend="ray")
    status = main(["sweep", "--data", "digits", "--model", "sae-topk", "--grid", "k=2", "--backend", "ray"])
    assert status == 2 and "needs Ray" in capsys.readouterr().err
