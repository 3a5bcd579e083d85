"""``python -m core sweep``: a grid of parameters times seeds, one JSON line per trial as it finishes.

    python -m core sweep --data digits --model sae-topk --grid k=2,4,8 --grid n_components=32,64 --seeds 2

Each trial's line has ``model, data, params, seed, mse, fvu, l0, dead_fraction, seconds, device`` (and its
``status``, and ``error`` when it failed); the last line is the summary ``trials, failed, seconds, backend``.
``--baselines`` adds a line per PCA and NMF baseline (``"baseline": true``) before the summary, and
``--against RUN_ID`` one per saved run (e.g. an SAE added by ``python -m core import``; ``"beside": true``),
measured on the same data as the trials (``core.analysis.frontier.measured_beside``). ``--out DIR``
writes each trial's folder (checkpoint, metrics.json, history.csv, atoms.png), named after its grid values
and seed. ``--backend ray`` trains the groups on a Ray cluster (``--ray-address``, else ``$RAY_ADDRESS``, else
a local one). Exit status: 0 every trial trained, 1 some failed (their lines say why), 2 bad input, 130
interrupted (the trials done so far are printed and kept).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Any

from core import budget, models
from core.device import DEVICE_CHOICES, resolve_device
from core.jobs.sweep import BACKENDS, SweepJob
from core.states import FAILED

#: the keys of a trial's JSON line, in order (then status, and error for a failed trial)
TRIAL_KEYS = ("model", "data", "params", "seed", "mse", "fvu", "l0", "dead_fraction", "seconds", "device")
SUMMARY_KEYS = ("trials", "failed", "seconds", "backend")


def add_command(commands, cli) -> None:
    """Register ``sweep`` on the subcommands of ``core.cli``'s parser; ``cli`` is that module, whose parsing,
    checks and writing the command reuses (handed over: importing it here would make an import cycle)."""
    sweep = commands.add_parser("sweep", help="train a grid of parameters times seeds; a JSON line per trial",
                                description="Sweep a model over a grid of up to three parameters times seeds; "
                                            "one JSON line per trial as it finishes, a summary line last.")
    sweep.set_defaults(handler=functools.partial(sweep_command, cli=cli), seed=0, k=None)
    sweep.add_argument("--data", required=True, help="data set name (see `datasets`) or a .npy/.npz/.csv path")
    sweep.add_argument("--model", required=True, help="model name (see `models`)")
    sweep.add_argument("--grid", action="append", default=[], metavar="PARAM=V1,V2,...",
                       help="a swept parameter and its values, e.g. --grid k=2,4,8 (repeatable, at most 3)")
    sweep.add_argument("--seeds", default="1", metavar="N | S1,S2,...",
                       help="how many seeds (0..N-1), or the seeds themselves, e.g. 0,5,9 (default 1: seed 0)")
    sweep.add_argument("--n-components", type=int, help="atoms / latents of every trial (unless in the grid)")
    sweep.add_argument("--max-steps", type=int, help="training steps of every trial (iterative models)")
    sweep.add_argument("--device", choices=DEVICE_CHOICES, help="where to train (default: the model's, 'auto')")
    sweep.add_argument("--set", dest="params", action="append", type=cli._key_value, default=[], metavar="PARAM=VALUE",
                       help="any other model parameter, the same for every trial (repeatable)")
    sweep.add_argument("--data-option", dest="data_options", action="append", type=cli._key_value, default=[],
                       metavar="KEY=VALUE", help="a data option, e.g. --data-option scale=minmax (repeatable)")
    sweep.add_argument("--n-samples", type=int, help="use a random subset of this many samples")
    sweep.add_argument("--backend", choices=BACKENDS, default="local",
                       help="local: batched stacks in this process (default); ray: a Ray cluster")
    sweep.add_argument("--ray-address", help="the Ray cluster (default: $RAY_ADDRESS, else a local one)")
    sweep.add_argument("--baselines", action="store_true", help="also fit PCA and NMF at each size; a line each")
    sweep.add_argument("--out", type=Path, help="folder for each trial's checkpoint, metrics and atoms")
    sweep.add_argument("--against", action="append", default=[], metavar="RUN_ID",
                       help="a saved run (e.g. an imported SAE) measured on the same data as the trials; a line "
                            "each, \"beside\": true (repeatable)")
    sweep.add_argument("--store", type=Path, help="the run store of --against (default $SAE_EXPLORER_RUNS or ./runs)")


def parse_grid(cli, model: str, texts: list[str]) -> dict[str, list[Any]]:
    """``["k=2,4,8", "n_components=32,64"]`` -> ``{"k": [2, 4, 8], "n_components": [32, 64]}``, each value
    typed as the parameter's default; bad text raises ``cli.UsageError`` naming the fix."""
    UsageError = cli.UsageError
    allowed = models.default_params(model)
    grid: dict[str, list[Any]] = {}
    for text in texts:
        name, sep, raw = text.partition("=")
        name = name.strip().replace("-", "_")
        items = [item.strip() for item in raw.split(",")]
        if not sep or not name or not all(items):
            raise UsageError(f"--grid {text!r} is not PARAM=V1,V2,...; write e.g. --grid k=2,4,8")
        if name in grid:
            raise UsageError(f"--grid {name} is given twice; list all its values in one --grid {name}=...")
        if name not in allowed:
            raise UsageError(f"--grid {name}: model {model!r} has no parameter {name!r}. "
                             f"Its parameters: {', '.join(allowed)} (see `python -m core models`).")
        values = []
        for item in items:
            value = cli._key_value(f"{name}={item}")[1]
            try:
                values.append(cli._typed(model, name, value, allowed[name]))
            except UsageError:
                raise UsageError(f"--grid {name}: {item!r} is not a value of {name} (its default is "
                                 f"{allowed[name]!r}); write e.g. --grid {name}={json.dumps(allowed[name])}") from None
        grid[name] = values
    return grid


def parse_seeds(cli, text: str) -> list[int]:
    """``"3"`` -> ``[0, 1, 2]``; ``"0,5,9"`` -> ``[0, 5, 9]``."""
    parts = [part.strip() for part in str(text).split(",")]
    if not all(re.fullmatch(r"\d+", part) for part in parts):
        raise cli.UsageError(f"--seeds {text!r}: give a count (e.g. --seeds 3) or whole numbers (e.g. --seeds 0,5,9)")
    if len(parts) == 1:
        if int(parts[0]) < 1:
            raise cli.UsageError("--seeds 0 trains nothing; give at least --seeds 1")
        return list(range(int(parts[0])))
    return [int(part) for part in parts]


def trial_folder(model: str, point) -> str:
    """A trial's folder name under --out, e.g. ``sae-topk_k=2_n_components=32_seed0`` (safe characters only)."""
    name = "_".join([model, *(f"{key}={value}" for key, value in point.grid_values.items()), f"seed{point.seed}"])
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", name)


def measured_beside(cli, store_root: Path | None, run_ids: list[str], X) -> list[dict[str, Any]]:
    """The saved runs ``run_ids`` measured on ``X`` as the trials are, one row each (``"beside": true``);
    ``cli.UsageError`` naming a run that cannot be read or measured."""
    from core.analysis.frontier import measured_beside as measure
    from core.store import RunStore, StoreError

    if not run_ids:
        return []
    try:
        store = RunStore(store_root) if store_root is not None else RunStore()
        rows = []
        for run_id in run_ids:
            row = measure(store.get(run_id), store.load_model(run_id, device="cpu"), X)
            rows.append({**row, "beside": True})
    except (StoreError, ValueError) as error:
        raise cli.UsageError(f"--against: {error}") from None
    return rows


def sweep_command(args: argparse.Namespace, cli) -> int:
    grid = parse_grid(cli, args.model, args.grid)
    seeds = parse_seeds(cli, args.seeds)
    base = {name: value for name, value in cli.model_params(args).items()
            if name not in grid and name != "random_state"}
    if args.backend == "local":  # a Ray cluster's nodes may have the GPU this machine lacks
        try:
            resolve_device(base.get("device", "auto"))
        except ValueError as error:
            raise cli.UsageError(str(error)) from None
    data = cli.load_data(args)
    options = dict(data.options)  # as loaded: the seed and subsample included
    cli._check_sign(args.model, data, options)
    beside = measured_beside(cli, args.store, args.against, data.X)  # a bad run id is said before any training
    job = SweepJob(data.X, models_=[args.model], grid=grid, seeds=seeds, base_params={args.model: base},
                   dataset=data.name, data_options=options, image_shape=data.image_shape,
                   baselines=args.baselines, backend=args.backend, ray_address=args.ray_address, processes=False,
                   idle_timeout=math.inf)  # nobody polls it: it runs until done or interrupted
    budget.check_fits([(models.create(args.model, **p.params), args.model) for p in job.sweeps[0].points],
                      data.n_samples, data.n_features)
    if args.out is not None:
        cli.prepare_out(args.out)

    def print_trial(sweep, point, row: dict[str, Any]) -> None:
        line = {key: row.get(key) for key in TRIAL_KEYS}
        line.update(data=data.name, status=row["status"], **({"error": row["note"]} if row["status"] == FAILED else {}))
        if args.out is not None and point.estimator is not None:
            folder = trial_folder(args.model, point)
            cli.write_run(args.out / folder, point.estimator, data, {**line, "data_options": options})
            line["out"] = str(args.out / folder)
        print(json.dumps(cli._finite(line)), flush=True)

    job.on_trial = print_trial
    started = time.perf_counter()
    job.start()
    try:
        while not job.wait(0.5):
            pass
    except KeyboardInterrupt:
        job.stop()
        job.wait()
        print("error: interrupted; the trials above are done", file=sys.stderr)
        return 130
    snap = job.snapshot()
    if snap.error:  # the sweep as a whole failed (e.g. the Ray cluster went away): no summary to give
        print(f"error: the sweep failed: {snap.error}", file=sys.stderr)
        return 1
    for reference in snap.references:
        print(json.dumps(cli._finite({**reference, "data": data.name, "baseline": True})), flush=True)
    for row in beside:
        print(json.dumps(cli._finite({**row, "data": data.name})), flush=True)
    failed = sum(row["status"] == FAILED for row in snap.rows)
    summary = {"trials": len(snap.rows), "failed": failed, "seconds": round(time.perf_counter() - started, 3),
               "backend": args.backend}
    print(json.dumps(summary), flush=True)
    return 1 if failed else 0
