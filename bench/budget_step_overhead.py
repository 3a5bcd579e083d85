"""core.budget's time estimate against what training takes: small and large models on digits, one torch thread
(as a worker trains), and a whole default Sweep-page sweep. Prints estimate, measurement and their ratio; the
per-step overhead (core.budget.STEP_OVERHEAD_SECONDS) is the measured time of a step of the smallest model.

    .venv/bin/python bench/budget_step_overhead.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core import budget, datasets, models  # noqa: E402
from core.jobs.sweep import SweepJob  # noqa: E402

CASES = [("sae-topk", 8, 200), ("sae-topk", 32, 500), ("sae-l1", 32, 500), ("sae-jumprelu", 64, 200),
         ("sae-matryoshka", 64, 100), ("sae-topk", 512, 100), ("sae-topk", 2048, 50), ("nmf", 16, 100)]


def main() -> None:
    torch.set_num_threads(1)
    X = datasets.load("digits").X.astype(np.float32)
    models.create("sae-topk", n_components=8, max_steps=2).fit(X)  # torch's imports, not counted
    print(f"{'model':16} {'atoms':>6} {'steps':>6} {'estimate s':>11} {'measured s':>11} {'ratio':>6}")
    for name, atoms, steps in CASES:
        model = models.create(name, n_components=atoms, max_steps=steps)
        cost = budget.estimate_model(model, *X.shape, name)
        start = time.perf_counter()
        model.fit(X)
        took = time.perf_counter() - start
        print(f"{name:16} {atoms:6} {steps:6} {cost.seconds:11.3f} {took:11.3f} {took / cost.seconds:6.2f}")
    ks = [2, 4, 8, 16, 32]
    estimate = sum(budget.estimate(X.shape[0], X.shape[1], 32, "sae-topk", max_steps=500).seconds
                   for _ in ks)
    start = time.perf_counter()
    job = SweepJob(X, models_=["sae-topk"], grid={"k": ks}, baselines=False, processes=False,
                   base_params={"sae-topk": {"n_components": 32, "max_steps": 500}}).start()
    job.wait()
    took = time.perf_counter() - start
    print(f"{'sweep k x5':16} {32:6} {500:6} {estimate:11.3f} {took:11.3f} {took / estimate:6.2f}")


if __name__ == "__main__":
    main()
