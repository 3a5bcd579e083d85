"""A batched sweep against the same points trained one after another: seconds per sweep point.

``core.sweep`` trains the points of one group as a single stack (one batched step for all of them);
``batched=False`` trains them one by one with the same parameters. Both sweep ``k`` of ``sae-topk`` on
``digits`` (minmax); the two modes alternate over ``--repeats`` runs after a warm-up, so a busy machine
slows both alike, and each gives its median time divided by the number of points.

Usage (from the repository root)::

    .venv/bin/python bench/sweep_speed.py --device cpu     # ~1 min on 2 cores
    .venv/bin/python bench/sweep_speed.py --device cuda --steps 500

The last line of stdout is the JSON report of bench/README.md; speedup > 1 means the batched sweep is faster.
"""

from __future__ import annotations

import argparse

from common import log, median, now, report, resolve, row

from core import datasets
from core.sweep import Sweep, SweepConfig


def seconds_per_point(X, config: SweepConfig, device) -> float:
    start = now(device)
    sweep = Sweep(config)
    sweep.run(X)
    assert sweep.batched is config.batched, sweep.notes
    return (now(device) - start) / len(config.values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--values", default="1,2,3,4,6,8", help="the values of k, one point each")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = resolve(args.device)
    X = datasets.load("digits", scale="minmax").X
    values = [int(v) for v in args.values.split(",")]
    base = {"n_components": 24, "max_steps": args.steps, "batch_size": 64, "learning_rate": 3e-3,
            "warmup_steps": 10, "random_state": 0, "device": args.device}
    configs = {batched: SweepConfig("sae-topk", "k", values, base, batched=batched) for batched in (True, False)}
    seconds_per_point(X, SweepConfig("sae-topk", "k", values[:1], base), device)  # warm-up
    times: dict[bool, list[float]] = {True: [], False: []}
    for repeat in range(args.repeats):
        for batched, config in configs.items():
            times[batched].append(seconds_per_point(X, config, device))
        log(f"repeat {repeat + 1}: batched {times[True][-1]:.4f} s/point, one by one {times[False][-1]:.4f} s/point")
    config = f"sae-topk k={args.values} digits, {args.steps} steps"
    report(device, [row(config, median(times[True]), median(times[False]), "seconds per point", False,
                        repeats=args.repeats)])


if __name__ == "__main__":
    main()
