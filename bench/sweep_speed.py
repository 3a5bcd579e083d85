"""Sweeps: 16 SAEs in one batched stack against the same 16 trained one after another, and Ray's overhead
per trial group on a local cluster.

1. ``core.sweep`` can train the points of one shape and seed as one stack (one batched step for all of them;
   here forced: ``Sweep.max_stack_bytes = None``); ``batched=False`` trains them one by one with the same
   parameters. Both sweep ``k`` of ``sae-topk`` over ``--saes`` values centred on ``--k`` (16 values 17, 19,
   ..., 47 by default: mean 32) at ``--features`` x ``--latents`` (784 x 4096, the issue's size) on random
   non-negative data; the two modes alternate over ``--repeats`` runs after a warm-up, so a busy machine
   slows both alike. Figures: seconds per SAE, wall and CPU (this process's CPU time, less hurt by other
   processes' load), and how the planner (``core.stack_plan``) cuts the group by default.
   Then, alone: one sae-topk step with the sparse encoder gradient against the dense one (alternated), the
   dense GEMM rate of the encoder's product, and a tiny model's step (the fixed per-step cost, all a stack
   can save when its products run at the same rate): the ceiling of a stack's speedup, in numbers.
2. With ``--ray`` (Ray installed): one trial group sized to take about ``--group-seconds`` (30) here, run in
   this process and then as a Ray task on a local cluster (``ray.init(num_cpus=...)``, started before the
   timing), through ``core.jobs.ray_backend`` as a ``SweepJob`` runs it. Overhead = Ray's time minus the
   local one, per group, also as a share of the local time. The first task also starts its Ray worker: both
   the cold and a warm task are reported.

Usage (from the repository root)::

    .venv/bin/python bench/sweep_speed.py                                   # ~2 minutes on 2 quiet cores
    .venv/bin/python bench/sweep_speed.py --device cpu --steps 10 --ray     # and Ray's overhead
    .venv/bin/python bench/sweep_speed.py --device cuda --steps 200
    RAY_worker_niceness=0 .venv/bin/python bench/sweep_speed.py --ray-only

Ray runs its workers niced (15) by default: on a busy machine that, not Ray itself, makes most of a task's
extra time; ``RAY_worker_niceness=0`` measures Ray at the driver's priority.

The last line of stdout is the JSON report of bench/README.md; speedup > 1 means the project's way (the
batched stack; running in this process rather than on Ray) is faster.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from common import log, median, now, report, resolve, row

from core import models
from core.sweep import Sweep, SweepConfig


def seconds_per_sae(X, config: SweepConfig, device, whole_stack: bool = False) -> tuple[float, float]:
    """(wall, CPU) seconds per SAE of one sweep run; ``whole_stack``: the group as one stack, uncut."""
    start, cpu = now(device), time.process_time()
    sweep = Sweep(config)
    if whole_stack:
        sweep.max_stack_bytes = None
    sweep.run(X)
    assert sweep.batched is config.batched, sweep.notes
    return (now(device) - start) / len(sweep.points), (time.process_time() - cpu) / len(sweep.points)


def stack_against_one_by_one(X, args, device) -> dict:
    ks = [args.k + 2 * (i - args.saes // 2) + 1 for i in range(args.saes)]
    base = {"n_components": args.latents, "max_steps": args.steps, "batch_size": args.batch_size,
            "learning_rate": 1e-3, "warmup_steps": 1, "random_state": 0, "device": args.device,
            "log_every": args.steps}
    configs = {batched: SweepConfig("sae-topk", {"k": ks}, base_params=base, batched=batched)
               for batched in (True, False)}
    seconds_per_sae(X, SweepConfig("sae-topk", {"k": ks[:2]}, base_params={**base, "max_steps": 2}), device, True)
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for repeat in range(args.repeats):
        for batched, config in configs.items():
            times[batched].append(seconds_per_sae(X, config, device, whole_stack=batched))
        log(f"repeat {repeat + 1}: stack {times[True][-1][0]:.3f} s/SAE, one by one {times[False][-1][0]:.3f} s/SAE "
            f"(CPU {times[True][-1][1]:.3f} / {times[False][-1][1]:.3f}), load {os.getloadavg()[0]:.1f}")
    planner = Sweep(configs[True])
    planner.prepare(X)
    config = (f"{args.saes} x sae-topk k={ks[0]}..{ks[-1]} (mean {np.mean(ks):g}), {args.features} features, "
              f"{args.latents} latents, batch {args.batch_size}, {args.steps} steps")
    cpu = {batched: median([t[1] for t in times[batched]]) for batched in times}
    return row(config, median([t[0] for t in times[True]]), median([t[0] for t in times[False]]),
               "seconds per SAE", False, repeats=args.repeats, cpu_stack=round(cpu[True], 3),
               cpu_one_by_one=round(cpu[False], 3), cpu_speedup=round(cpu[False] / cpu[True], 3),
               planned_stacks=[len(unit) for unit in planner.units()])


def _step_ms(model, steps: range, device) -> float:
    start = now(device)
    for step in steps:
        model._train_step(step)
    return (now(device) - start) / len(steps) * 1000


def _topk(X, n_latents, k, batch_size, device, sparse: bool):
    model = models.create("sae-topk", n_components=n_latents, k=k, batch_size=batch_size, learning_rate=1e-3,
                          warmup_steps=1, random_state=0, device=device, dead_window=10**9)  # AuxK off
    model._sparse_encoder_grad = sparse
    model._begin_fit(X)
    model._train_step(1)
    return model


def sparse_gradient_and_ceiling(X, args, device) -> list[dict]:
    """One SAE alone: sparse against dense encoder gradient (alternated blocks of steps), the GEMM rate, the
    fixed cost of a step (a tiny model's), and what those allow a stack of the same FLOPs."""
    pair = {sparse: _topk(X, args.latents, args.k, args.batch_size, args.device, sparse) for sparse in (True, False)}
    ms: dict[bool, list[float]] = {True: [], False: []}
    block, step = 3, 2
    for _ in range(args.repeats + 2):
        for sparse, model in pair.items():
            ms[sparse].append(_step_ms(model, range(step, step + block), device))
        step += block
    gen = torch.Generator().manual_seed(0)
    xc = torch.randn(args.batch_size, args.features, generator=gen, device=device)
    W = torch.randn(args.latents, args.features, generator=gen, device=device)
    gemm = []
    for _ in range(7):
        start = now(device)
        xc @ W.T
        gemm.append(now(device) - start)
    flops = 2.0 * args.batch_size * args.latents * args.features  # one encoder product
    rate = flops / median(gemm)
    tiny = _topk(X[:, :16], 32, 4, args.batch_size, args.device, True)
    fixed = median([_step_ms(tiny, range(s, s + 5), device) for s in (2, 7, 12)])
    one_by_one = median(ms[True])
    products = 1e3 * flops / rate  # the forward product; the sparse backward is small beside it
    ceiling = one_by_one / max(one_by_one - fixed, 1e-9)
    log(f"sparse encoder gradient {one_by_one:.1f} ms/step against dense {median(ms[False]):.1f}; encoder GEMM "
        f"{flops / 1e9:.2f} GFLOP at {rate / 1e9:.0f} GFLOP/s = {products:.1f} ms; a tiny model's step {fixed:.1f} ms")
    shape = f"sae-topk {args.features} x {args.latents}, k {args.k}, batch {args.batch_size}, AuxK off"
    return [row(f"sparse encoder gradient against dense, alone: {shape}", one_by_one, median(ms[False]),
                "ms per step", False, repeats=len(ms[True])),
            {"config": f"a stack's ceiling on this device: {shape}", "step_ms": round(one_by_one, 2),
             "encoder_gflop_per_step": round(flops / 1e9, 3), "gemm_gflops": round(rate / 1e9, 1),
             "forward_product_ms": round(products, 2), "fixed_step_ms": round(fixed, 2),
             "stack_speedup_ceiling": round(ceiling, 2)}]


def ray_overhead(X, args) -> list[dict]:
    import ray

    from core.jobs import ray_backend
    from core.jobs.fit import SweepFiring

    # the product's runtime environment: the workers import this checkout's ``core`` wherever they start
    ray.init(num_cpus=args.threads, include_dashboard=False, log_to_driver=False,
             runtime_env=ray_backend.runtime_env())
    base = {"n_components": 256, "k": 16, "batch_size": 256, "learning_rate": 1e-3, "random_state": 0,
            "device": "cpu", "log_every": 50}
    def probe(steps: int) -> float:
        start = time.perf_counter()
        Sweep(SweepConfig("sae-topk", {"k": [8, 16]}, base_params={**base, "max_steps": steps})).run(X)
        return time.perf_counter() - start

    # two sizes, so that a fit's fixed cost (its first step's warm-up, evaluation) does not count as steps
    probe(20)
    short, long = probe(50), probe(250)
    per_step = max((long - short) / 200, 1e-4)
    steps = max(50, int((args.group_seconds - (short - 50 * per_step)) / per_step))
    config = SweepConfig("sae-topk", {"k": [8, 16]}, base_params={**base, "max_steps": steps})
    sweep = Sweep(config)
    (unit,) = sweep.units()
    progress = ray_backend._progress_actor(ray).remote()
    task = ray.remote(ray_backend.train_unit_task).options(num_cpus=args.threads)
    X_ref = ray.put(sweep.prepare(X))

    def here() -> float:
        start = time.perf_counter()
        X_sweep = sweep.prepare(X)
        sweep.observer = SweepFiring(X_sweep)  # the firing records a Ray task keeps too (train_unit_task)
        for _ in sweep.train_unit(unit, X_sweep, _control()):
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
    parser.add_argument("--steps", type=int, default=6, help="training steps of each SAE")
    parser.add_argument("--saes", type=int, default=16)
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--latents", type=int, default=4096)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ray", action="store_true", help="also measure Ray's overhead per trial group")
    parser.add_argument("--ray-only", action="store_true", help="only Ray's overhead (no stack against one by one)")
    parser.add_argument("--group-seconds", type=float, default=30.0, help="the size of the Ray trial group")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads here (1: CPU time is then less hurt by a loaded machine), and CPUs "
                             "of the Ray cluster and of its task")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve(args.device)
    X = np.random.default_rng(0).random((args.samples, args.features), dtype=np.float32)
    load = os.getloadavg()[0]
    results = [] if args.ray_only else [stack_against_one_by_one(X, args, device),
                                        *sparse_gradient_and_ceiling(X, args, device)]
    if not args.ray_only:
        stack, gradient, ceiling = results
        print(f"16 SAEs: one stack {stack['project']:.2f} s/SAE, one by one {stack['reference']:.2f} "
              f"({stack['speedup']:.2f}x; CPU time {stack['cpu_speedup']:.2f}x; planned stacks "
              f"{sorted(set(stack['planned_stacks']))}); sparse encoder gradient {gradient['speedup']:.2f}x alone; "
              f"ceiling of a stack {ceiling['stack_speedup_ceiling']:.2f}x (step {ceiling['step_ms']:.0f} ms, fixed "
              f"{ceiling['fixed_step_ms']:.1f} ms, GEMM {ceiling['gemm_gflops']:.0f} GFLOP/s); load "
              f"{load:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)
    if args.ray or args.ray_only:
        from core import datasets

        results += ray_overhead(datasets.load("digits", scale="minmax").X, args)
    report(device, results, load_average=[round(load, 1), round(os.getloadavg()[0], 1)])


if __name__ == "__main__":
    main()
