"""A saved sweep trial keeps the device it trained on, so the Sweep page's trials table and its CSV/JSON exports
carry it (as the CLI's trial lines do); it was never recorded and the column was always empty."""

from __future__ import annotations

import math

import numpy as np

from core.analysis import frontier
from core.jobs.sweep import SweepJob
from core.store import RunStore


def test_a_saved_trial_records_where_it_trained(tmp_path):
    store = RunStore(tmp_path / "runs")
    X = np.random.default_rng(0).random((64, 16), dtype=np.float32)
    job = SweepJob(X, models_=["sae-topk"], grid={"k": [1, 2]}, store=store, dataset="random",
                   base_params={"sae-topk": {"n_components": 8, "max_steps": 3, "batch_size": 16}},
                   baselines=False, processes=False, idle_timeout=math.inf).start()
    assert job.wait(60)
    snap = job.snapshot()
    assert [row["device"] for row in snap.rows] == ["cpu", "cpu"]
    records = store.list_runs()
    rows = frontier.trial_rows(records, ["k"])
    assert [row["device"] for row in rows] == ["cpu", "cpu"]
