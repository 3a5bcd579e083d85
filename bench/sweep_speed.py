"""Sweeps: 16 SAEs in one batched stack against the same 16 trained one after another, and Ray's overhead
per trial group on a local cluster.

1. ``core.sweep`` trains the points of one shape and seed as one stack (one batched step for all of them);
   ``batched=False`` trains them one by one with the same parameters. Both sweep ``k`` of ``sae-topk`` over
   ``--saes`` values centred on ``--k`` (16 values 17, 19, ..., 47 by default: mean 32) at ``--features`` x
   ``--latents`` (784 x 4096, the issue's size) on random non-negative data; the two modes alternate over
   ``--repeats`` runs after a warm-up, so a busy machine slows both alike. Figures: seconds per SAE.
2. With ``--ray`` (Ray installed): one trial group sized to take about ``--group-seconds`` (30) here, run in
   this process and then as a Ray task on a local cluster (``ray.init(num_cpus=...)``, started before the
   timing), through ``core.jobs.ray_backend`` as a ``SweepJob`` runs it. Overhead = Ray's time minus the
   local one, per group, also as a share of the local time. The first task also starts its Ray worker: both
   the cold and a warm task are reported.

Usage (from the repository root)::

    .venv/bin/python bench/sweep_speed.py --device cpu --steps 10 --ray     # a few minutes on 2 cores
    .venv/bin/python bench/sweep_speed.py --device cuda --steps 200
    RAY_worker_niceness=0 .venv/bin/python bench/sweep_speed.py --ray-only

Ray runs its workers niced (15) by default: on a busy machine that, not Ray itself, makes most of a task's
extra time; ``RAY_worker_niceness=0`` measures Ray at the driver's priority.

The last line of stdout is the JSON report of bench/README.md; speedup > 1 means the project's way (the
batched stack; running in this process rather than on Ray) is faster.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import log, median, now, report, resolve, row

from core.sweep import Sweep, SweepConfig


def seconds_per_sae(X, config: SweepConfig, device) -> float:
    start = now(device)
    sweep = Sweep(config)
    sweep.run(X)
    assert sweep.batched is config.batched, sweep.notes
    return (now(device) - start) / len(sweep.points)


def stack_against_one_by_one(X, args, device) -> dict:
    ks = [args.k + 2 * (i - args.saes // 2) + 1 for i in range(args.saes)]
    base = {"n_components": args.latents, "max_steps": args.steps, "batch_size": args.batch_size,
            "learning_rate": 1e-3, "warmup_steps": 1, "random_state": 0, "device": args.device,
            "log_every": args.steps}
    configs = {batched: SweepConfig("sae-topk", {"k": ks}, base_params=base, batched=batched)
               for batched in (True, False)}
    seconds_per_sae(X, SweepConfig("sae-topk", {"k": ks[:2]}, base_params={**base, "max_steps": 2}), device)  # warm-up
    times: dict[bool, list[float]] = {True: [], False: []}
    for repeat in range(args.repeats):
        for batched, config in configs.items():
            times[batched].append(seconds_per_sae(X, config, device))
        log(f"repeat {repeat + 1}: stack {times[True][-1]:.3f} s/SAE, one by one {times[False][-1]:.3f} s/SAE")
    config = (f"{args.saes} x sae-topk k={ks[0]}..{ks[-1]} (mean {np.mean(ks):g}), {args.features} features, "
              f"{args.latents} latents, batch {args.batch_size}, {args.steps} steps")
    return row(config, median(times[True]), median(times[False]), "seconds per SAE", False, repeats=args.repeats)


def ray_overhead(X, args) -> list[dict]:
    import ray

    from core.jobs import ray_backend

    ray.init(num_cpus=args.threads, include_dashboard=False, log_to_driver=False)
    base = {"n_components": 256, "k": 16, "batch_size": 256, "learning_rate": 1e-3, "random_state": 0,
            "device": "cpu", "log_every": 50}
    probe = Sweep(SweepConfig("sae-topk", {"k": [8, 16]}, base_params={**base, "max_steps": 20}))
    start = time.perf_counter()
    probe.run(X)
    steps = max(50, int(args.group_seconds / ((time.perf_counter() - start) / 20)))
    config = SweepConfig("sae-topk", {"k": [8, 16]}, base_params={**base, "max_steps": steps})
    sweep = Sweep(config)
    (unit,) = sweep.units()
    progress = ray_backend._progress_actor(ray).remote()
    task = ray.remote(ray_backend.train_unit_task).options(num_cpus=args.threads)
    X_ref = ray.put(sweep.prepare(X))

    def here() -> float:
        start = time.perf_counter()
        for _ in sweep.train_unit(unit, sweep.prepare(X), _control()):
            pass
        return time.perf_counter() - start

    def on_ray(tag: int) -> float:
        start = time.perf_counter()
        outcomes = ray.get(task.remote(ray_backend._config(sweep), unit, X_ref, progress, tag, args.threads))
        assert all(o["status"] == "finished" for o in outcomes), outcomes
        return time.perf_counter() - start

    cold = on_ray(0)  # starts its Ray worker (imports torch and core)
    local, remote = [], []
    for repeat in range(args.repeats):  # alternated: a busy machine slows both alike
        local.append(here())
        remote.append(on_ray(repeat + 1))
        log(f"group of 2 SAEs x {steps} steps: here {local[-1]:.1f} s, as a warm Ray task {remote[-1]:.1f} s")
    log(f"the first (cold) Ray task: {cold:.1f} s")
    results = []
    for label, seconds in (("cold (starts its worker)", cold), ("warm", median(remote))):
        overhead = seconds - median(local)
        results.append(row(f"Ray task, {label}: 2 x sae-topk 256 latents, {steps} steps on digits, "
                           f"{args.threads} CPUs", median(local), seconds, "seconds per group", False,
                           overhead_seconds=round(overhead, 2),
                           overhead_percent=round(100 * overhead / median(local), 1), repeats=args.repeats))
    ray.shutdown()
    return results


def _control():
    from core.training import TrainControl

    return TrainControl()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--steps", type=int, default=20, help="training steps of each SAE")
    parser.add_argument("--saes", type=int, default=16)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--latents", type=int, default=4096)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--ray", action="store_true", help="also measure Ray's overhead per trial group")
    parser.add_argument("--ray-only", action="store_true", help="only Ray's overhead (no stack against one by one)")
    parser.add_argument("--group-seconds", type=float, default=30.0, help="the size of the Ray trial group")
    parser.add_argument("--threads", type=int, default=2, help="CPUs of the Ray cluster and of its task")
    args = parser.parse_args()
    device = resolve(args.device)
    X = np.random.default_rng(0).random((args.samples, args.features), dtype=np.float32)
    results = [] if args.ray_only else [stack_against_one_by_one(X, args, device)]
    if args.ray or args.ray_only:
        from core import datasets

        results += ray_overhead(datasets.load("digits", scale="minmax").X, args)
    report(device, results)


if __name__ == "__main__":
    main()
