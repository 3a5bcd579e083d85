"""Sweeps on different data shown together on the Sweep page: each data set gets its own PCA and NMF baselines,
named by their data, not only the first sweep's data's baselines drawn for all (issue 21)."""

from __future__ import annotations

import json

from app_support import elements, open_page
from core import datasets
from core.jobs.saving import save_sweep_point
from core.store import RunStore
from core.sweep import Sweep, SweepConfig


def _saved_sweep(store, options):
    X = datasets.load("digits", **options).X
    sweep = Sweep(SweepConfig(model="sae-topk", grid={"k": [2]}, base_params={"n_components": 6, "max_steps": 5}))
    sweep.run(X)
    save_sweep_point(store, sweep, sweep.points[0], dataset="digits", data_options=options, X=X, group=sweep.id)
    return sweep.id


def test_each_data_sets_baselines_are_drawn_and_named(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    whole, sample = _saved_sweep(store, {}), _saved_sweep(store, {"n_samples": 400})
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    at = open_page("views/sweep.py")
    at.multiselect(key="sweep:shown").set_value([sample, whole]).run()
    assert not at.exception
    traces = json.loads(elements(at, "plotly_chart")[0].proto.spec)["data"]
    names = {t["name"] for t in traces}
    assert {"PCA (same rank) on digits", "PCA (same rank) on digits (n_samples=400)",
            "NMF (same rank) on digits", "NMF (same rank) on digits (n_samples=400)"} <= names, names
    at.multiselect(key="sweep:shown").set_value([whole]).run()  # one data set: named as before
    traces = json.loads(elements(at, "plotly_chart")[0].proto.spec)["data"]
    assert {"PCA (same rank)", "NMF (same rank)"} <= {t["name"] for t in traces}
