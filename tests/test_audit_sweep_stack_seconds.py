"""The trials of one batched stack share its training time evenly: one figure each, not each a few microseconds
apart (the parallel coordinates drew that noise as an axis of ticks 4.264184 ... 4.264194)."""

from __future__ import annotations

import numpy as np

from core.sweep import Sweep, SweepConfig


def test_the_trials_of_one_stack_get_the_same_share_of_its_time():
    X = np.random.default_rng(0).random((64, 16), dtype=np.float32)
    sweep = Sweep(SweepConfig("sae-topk", {"k": [1, 2, 3, 4]}, base_params={
        "n_components": 8, "max_steps": 3, "batch_size": 16, "device": "cpu"}))
    sweep.run(X)
    assert sweep.batched and len(sweep.units()) == 1  # one stack of four
    seconds = {point.seconds for point in sweep.points}
    assert len(seconds) == 1 and seconds.pop() > 0
