"""The local engine's stack planner (``core.stack_plan``): on the CPU a sweep's group of same-shape points is
cut into stacks whose stacked weights fit ``CPU_STACK_BYTES`` (past that a stack is slower per point than
points one after another, bench/RESULTS.md); a cut sweep trains each point as one whole stack would."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.stack_plan import CPU_STACK_BYTES, cut_into_stacks, stack_limit
from core.sweep import FINISHED, Sweep, SweepConfig

KS = [4, 5, 6, 7, 8, 9, 10, 11]


def _units(n_features, n_latents):
    sweep = Sweep(SweepConfig("sae-topk", {"k": KS}, base_params={"n_components": n_latents, "device": "cpu"}))
    before = sweep.units()
    sweep.prepare(np.zeros((4, n_features), np.float32))
    return before, sweep.units(), sweep.notes


def test_the_issue_size_trains_one_point_after_another_on_the_cpu():
    before, units, notes = _units(784, 4096)  # 25 MB of encoder and decoder weights per point
    assert before == [list(range(len(KS)))]  # the data's size is not known yet: the whole group
    assert units == [[i] for i in range(len(KS))]
    assert notes and "one after another" in notes[0]


def test_a_middle_size_is_cut_into_stacks_that_fit_the_budget():
    _, units, notes = _units(784, 1024)  # 6.1 MB per point: 5 fit in 32 MB
    assert units == [[0, 1, 2, 3, 4], [5, 6, 7]]
    assert "at most 5 points" in notes[0]


def test_a_small_size_stays_one_stack():
    _, units, notes = _units(64, 256)
    assert units == [list(range(len(KS)))] and notes == []


def test_the_rule():
    assert stack_limit(4096, 784, torch.device("cpu")) == 1
    assert stack_limit(256, 64, torch.device("cpu")) == CPU_STACK_BYTES // (2 * 256 * 64 * 4)
    assert stack_limit(4096, 784, torch.device("cuda")) is None  # a GPU stacks the whole group
    assert stack_limit(4096, 784, torch.device("cpu"), budget=None) is None
    assert cut_into_stacks([3, 4, 5], 2) == [[3, 4], [5]] and cut_into_stacks([3, 4, 5], None) == [[3, 4, 5]]


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((200, 20), dtype=np.float32)


def _trained(X, budget):
    params = {"n_components": 32, "max_steps": 30, "batch_size": 32, "warmup_steps": 2, "random_state": 0,
              "device": "cpu", "log_every": 10}
    sweep = Sweep(SweepConfig("sae-topk", {"k": [2, 3, 4]}, base_params=params))
    sweep.max_stack_bytes = budget
    progress = [row["progress"] for row in sweep.steps(X)]
    return sweep, progress


def test_a_cut_sweep_trains_each_point_as_the_whole_stack_does(X):
    whole, _ = _trained(X, None)
    per_point = 2 * 32 * 20 * 4
    for budget, units in ((2 * per_point, [[0, 1], [2]]), (per_point, [[0], [1], [2]])):
        cut, progress = _trained(X, budget)
        assert cut.units() == units
        assert progress == sorted(progress) and progress[-1] == 1.0
        for a, b in zip(whole.points, cut.points):
            assert a.status == b.status == FINISHED
            np.testing.assert_allclose([r["loss"] for r in b.estimator.history_],
                                       [r["loss"] for r in a.estimator.history_], rtol=1e-4)
            np.testing.assert_allclose(b.estimator.components_, a.estimator.components_, atol=1e-4)
