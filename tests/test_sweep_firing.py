"""A sweep's trials record firing density over training as a Train run does (core.jobs.fit.SweepFiring through
core.sweep's observer), whether they train as one batched stack or one by one, each measured with its own
weights; Inspect's feature card then draws the heatmap for a sweep trial."""

from __future__ import annotations

import numpy as np
import pytest

from app_support import elements, open_page
from core import datasets
from core.analysis.features import firing_over_training
from core.jobs.fit import FiringRecorder
from core.jobs.sweep import SweepJob
from core.store import RunStore

BASE = {"n_components": 8, "k": 3, "max_steps": 60, "log_every": 5, "device": "cpu"}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A batched sweep over k and a one-by-one sweep over the learning rate (not a per-point parameter),
    both saved to one store."""
    root = tmp_path_factory.mktemp("sweep-firing") / "runs"
    store, ds = RunStore(root), datasets.load("digits")
    jobs = [SweepJob(ds.X, models_=["sae-topk"], grid=grid, seeds=[0], base_params={"sae-topk": BASE}, store=store,
                     dataset="digits", image_shape=ds.image_shape, baselines=False, processes=False)
            for grid in ({"k": [2, 4]}, {"learning_rate": [1e-3, 3e-3]})]
    # the records' time budget (a record waits while it would cost over a share of the training time) is
    # not what these tests check, and on a loaded machine it drops records: lift it
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FiringRecorder, "CHEAP", float("inf"))
        for job in jobs:
            job.start()
            assert job.wait(120)
    batched, alone = (job.snapshot(touch=False) for job in jobs)
    assert batched.error is None and alone.error is None
    assert jobs[0].sweeps[0].batched and not jobs[1].sweeps[0].batched
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAE_EXPLORER_RUNS", str(root))
        yield store, batched.records, alone.records


def _firing(store, record):
    recorded = firing_over_training(store.load_history(record.id))
    assert recorded is not None, f"{record.name} has no firing record"
    return recorded


def test_each_trial_of_a_batched_stack_records_its_own_firing_density(swept):
    store, batched, _ = swept
    for record in batched:
        steps, fractions = _firing(store, record)
        assert len(steps) >= 8 and list(steps) == sorted(steps) and fractions.shape == (len(steps), 8)
        assert ((fractions >= 0) & (fractions <= 1)).all()
        # a TopK SAE fires exactly k of its latents per sample: the fractions sum to k, so each point of the
        # stack was measured with its own weights, not its neighbour's
        assert fractions[-1].sum() == pytest.approx(record.params["k"], abs=0.01)


def test_trials_trained_one_by_one_record_it_too(swept):
    store, _, alone = swept
    assert len(alone) == 2
    lasts = []
    for record in alone:
        steps, fractions = _firing(store, record)
        assert len(steps) >= 8 and fractions.shape[1] == 8
        assert fractions[-1].sum() == pytest.approx(record.params["k"], abs=0.01)
        lasts.append(fractions[-1])
    assert not np.allclose(*lasts)  # two learning rates, two trajectories


def test_inspect_draws_the_heatmap_for_a_sweep_trial(swept):
    _, batched, _ = swept
    at = open_page("views/inspect.py")
    at.selectbox(key="inspect:run").set_value(batched[0].id).run()
    assert not at.exception and not at.error
    charts = {c.proto.id.split("-", 2)[-1] for c in elements(at, "plotly_chart")}
    assert "inspect:firing-heatmap" in charts
