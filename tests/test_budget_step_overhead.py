"""core.budget's time estimate counts the fixed cost of each training step (issue 21: the Sweep page said
'about 83 ms' for a small sweep that trained 5.5 s): a small model's step is mostly that overhead, and its
estimate is not an order of magnitude below the CPU time it then takes."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from core import budget, datasets, models
from ui import sweep_live


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits").X.astype(np.float32)


def test_a_small_models_step_is_mostly_its_fixed_cost():
    cost = budget.estimate(1797, 64, 8, "sae-topk", max_steps=500, device="cpu")
    assert cost.step_overhead_seconds == budget.STEP_OVERHEAD_SECONDS["cpu"] > 0
    assert cost.seconds_per_step > cost.step_overhead_seconds  # the FLOP part is there too ...
    assert cost.seconds_per_step < 2 * cost.step_overhead_seconds  # ... and small beside it on this size
    assert cost.seconds >= 500 * cost.step_overhead_seconds
    big = budget.estimate(1797, 64, 4096, "sae-topk", max_steps=500, device="cpu")
    assert big.seconds_per_step > 2 * big.step_overhead_seconds  # a large model's step is mostly its products
    pca = budget.estimate(1797, 64, 16, "pca", device="cpu")
    assert pca.step_overhead_seconds == 0  # one solve, no training steps


def test_a_small_runs_estimate_is_not_an_order_of_magnitude_below_its_cpu_time(digits):
    model = models.create("sae-topk", n_components=8, max_steps=300, device="cpu")
    models.create("sae-topk", n_components=8, max_steps=2, device="cpu").fit(digits)  # torch's first imports
    cost = budget.estimate_model(model, *digits.shape, "sae-topk")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a worker trains; CPU time, not wall time: other processes' load aside
    try:
        start = time.process_time()
        model.fit(digits)
        took = time.process_time() - start
    finally:
        torch.set_num_threads(threads)
    assert cost.seconds * 10 > took, (cost.summary(), took)


def test_the_sweep_pages_cost_line_for_its_default_sweep_is_seconds_not_milliseconds():
    plan = sweep_live.Plan(["sae-topk"], {"k": [2, 4, 8, 16, 32]}, [0], 32, 500)
    line = sweep_live.cost(plan, 1797, 64)
    assert "about 83 ms" not in line and " ms " not in line.split("trained one after")[0], line
    seconds = sum(budget.estimate_model(models.create("sae-topk", **params), 1797, 64, "sae-topk").seconds
                  for params in plan.settings("sae-topk"))
    assert seconds > 5 * 500 * budget.STEP_OVERHEAD_SECONDS["cpu"]
