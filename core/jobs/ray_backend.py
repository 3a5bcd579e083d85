"""The Ray backend of ``core.jobs.sweep.SweepJob``: each unit of a sweep (a batched stack, or one point) is a
Ray task with its CPU/GPU request, on the cluster at ``ray_address`` (else ``$RAY_ADDRESS``, else a local one
started here).

The tasks report their progress rows to a small actor (``_progress_actor``) that the job polls, together
with the tasks (``ray.wait``), and publishes in its snapshot; each finished unit's trials are saved to the run
store as they come back. Stop: the actor tells the running tasks, which end with their weights so far (saved
``stopped``); the tasks not started yet are cancelled (``ray.cancel``, by force: their worker, if one had
picked them up, is replaced, never left half-interrupted) and their trials ``skipped``; a task
still running ``FORCE_AFTER`` seconds later is cancelled by force. A task that fails (an error in it, or its
worker died) makes its trials ``failed`` with the reason, and the others go on.

Ray is imported here only, when the backend is asked for: ``make run`` works without it. The workers import
``core`` from this checkout (shipped as a ``py_modules`` runtime environment), so a remote cluster needs
only the same Python packages (requirements.txt).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

#: seconds after Stop before a task that has not ended is cancelled by force (its trials then failed)
FORCE_AFTER = 30.0
#: how often the job polls the tasks and the progress actor (seconds)
POLL = 0.25
MISSING = ("The Ray backend needs Ray, which is not installed here: install it with "
           "`.venv/bin/pip install -c constraints.txt 'ray>=2.40,<3'` (make test does), or use backend local.")


def require_ray():
    """The ``ray`` module, or an ``ImportError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError(MISSING) from None
    return ray


def connect(address: str | None = None):
    """Ray, connected: to ``address``, else ``$RAY_ADDRESS``, else a local cluster started now. A process
    already connected (a test's ``ray.init``) stays on its cluster."""
    ray = require_ray()
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                     runtime_env=runtime_env())
        except ConnectionError as error:
            raise ConnectionError(f"Cannot reach the Ray cluster at {address!r}: {error}. Start one with "
                                  "`ray start --head` and give its address (RAY_ADDRESS or --ray-address).") from None
    return ray


def runtime_env() -> dict[str, Any]:
    """The workers' environment: this checkout's ``core`` package (set when this module connects; a process
    that connected itself runs its workers in its own directory, where ``core`` is importable too)."""
    return {"py_modules": [str(Path(__file__).resolve().parents[1])]}


def resources(ray, sweep, cpus: int = 1) -> dict[str, float]:
    """A unit's request: ``cpus`` CPUs, and one GPU when its device is CUDA (``auto`` where the cluster has one)."""
    device = str(sweep.points[0].params.get("device", "auto"))
    has_gpu = ray.cluster_resources().get("GPU", 0) > 0
    wants_gpu = device.startswith("cuda") or (device == "auto" and has_gpu)
    return {"num_cpus": cpus, "num_gpus": 1 if wants_gpu else 0}


def _progress_actor(ray):
    @ray.remote(num_cpus=0)
    class Progress:
        """Rows from the tasks for the job to drain; the Stop flag for the tasks; which units started."""

        def __init__(self) -> None:
            self.rows: list[tuple[int, dict[str, Any]]] = []
            self.stop, self.started = False, set()

        def begin(self, tag: int) -> bool:
            self.started.add(tag)
            return self.stop

        def report(self, tag: int, rows: list[dict[str, Any]]) -> bool:
            self.rows += [(tag, row) for row in rows]
            return self.stop

        def drain(self) -> tuple[list[tuple[int, dict[str, Any]]], set[int]]:
            rows, self.rows = self.rows, []
            return rows, set(self.started)

        def request_stop(self) -> None:
            self.stop = True

    return Progress


def train_unit_task(config: dict[str, Any], unit: list[int], X: np.ndarray, progress, tag: int,
                    threads: int = 1) -> list[dict[str, Any]]:
    """What one Ray task runs: the sweep rebuilt from its config, one unit trained, each point's outcome and
    weights returned (plain arrays: no estimator objects cross the wire)."""
    import ray
    import torch

    from core.sweep import Sweep, SweepConfig
    from core.training import TrainControl

    torch.set_num_threads(max(1, int(threads)))
    sweep = Sweep(SweepConfig(**config))
    control = TrainControl()
    if ray.get(progress.begin.remote(tag)):
        sweep.skip(unit)
    else:
        from core.jobs.fit import SweepFiring

        X_sweep = sweep.prepare(np.array(X))  # a writable copy of Ray's
        sweep.observer = SweepFiring(X_sweep)
        for row in sweep.train_unit(unit, X_sweep, control):
            if ray.get(progress.report.remote(tag, [row])):
                control.request_stop()
    outcomes = []
    for i in unit:
        point = sweep.points[i]
        fitted = point.estimator
        outcomes.append({"index": i, "status": point.status, "note": point.note, "seconds": point.seconds,
                         "weights": fitted.get_weights() if fitted is not None else None,
                         "n_features": getattr(fitted, "n_features_in_", X.shape[1]),
                         "history": list(getattr(fitted, "history_", []) or []),
                         "n_steps": getattr(fitted, "n_steps_", None)})
    return outcomes


def _apply(sweep, outcomes: list[dict[str, Any]]) -> None:
    """The task's outcomes into the job's own sweep: statuses, notes, times and fitted estimators."""
    from core import models

    for outcome in outcomes:
        point = sweep.points[outcome["index"]]
        point.status, point.note, point.seconds = outcome["status"], outcome["note"], outcome["seconds"]
        if outcome["weights"] is None:
            continue
        weights = {name: np.array(array) for name, array in outcome["weights"].items()}  # writable copies
        estimator = models.create(sweep.config.model, **point.params).set_weights(weights, outcome["n_features"])
        estimator.history_ = outcome["history"]
        if outcome["n_steps"] is not None:
            estimator.n_steps_ = outcome["n_steps"]
        point.estimator = estimator


def _config(sweep) -> dict[str, Any]:
    c = sweep.config
    return {"model": c.model, "grid": c.grid, "seeds": c.seeds, "base_params": c.base_params, "batched": c.batched}


def train_on_ray(job, cpus: int = 1) -> None:
    """Train ``job``'s sweeps (a ``SweepJob``) on Ray; see the module docstring. ``cpus`` per task."""
    ray = connect(job.ray_address)
    progress = _progress_actor(ray).remote()
    remote = ray.remote(train_unit_task)
    pending: dict[Any, tuple[int, Any, list[int]]] = {}
    steps: dict[int, tuple[int, int]] = {}  # tag -> (steps done, steps planned)
    for sweep in job.sweeps:
        X_ref = ray.put(sweep.prepare(job.X))
        request = resources(ray, sweep, cpus)
        for unit in sweep.units():
            if request["num_gpus"] and not ray.cluster_resources().get("GPU", 0):  # it would wait forever
                job.unit_failed(sweep, unit, "it asks for a GPU (device cuda) but the Ray cluster has none; "
                                             "add a GPU node or train on device cpu")
                continue
            tag = len(steps)
            steps[tag] = (0, sweep.unit_steps(unit))
            ref = remote.options(**request).remote(_config(sweep), unit, X_ref, progress, tag, cpus)
            pending[ref] = (tag, sweep, unit)
    job._set(message=f"Training {job.trials} trials as {len(pending)} Ray tasks ...")
    stop_sent: float | None = None
    try:
        while pending:
            if job.control.stop_requested and stop_sent is None:
                stop_sent = time.monotonic()
                ray.get(progress.request_stop.remote())
                _, started = ray.get(progress.drain.remote())
                for ref, (tag, _, _) in pending.items():
                    if tag not in started:  # by force: an interrupt (force=False) can land in a starting worker's
                        ray.cancel(ref, force=True)  # imports and leave it broken for the tasks it runs next
            elif stop_sent is not None and time.monotonic() - stop_sent > FORCE_AFTER:
                for ref in pending:
                    ray.cancel(ref, force=True)
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL)
            rows, _ = ray.get(progress.drain.remote())
            for tag, row in rows:
                steps[tag] = (row["step"], steps[tag][1])
            if rows:
                tag, row = rows[-1]
                job._set(progress=sum(d for d, _ in steps.values()) / sum(p for _, p in steps.values()),
                         message=f"Training on Ray · {len(pending)} tasks running or queued · step {row['step']}")
            for ref in ready:
                tag, sweep, unit = pending.pop(ref)
                steps[tag] = (steps[tag][1], steps[tag][1])
                try:
                    _apply(sweep, ray.get(ref))
                except (ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError) as error:
                    if stop_sent is not None and not isinstance(error, ray.exceptions.WorkerCrashedError):
                        sweep.skip(unit, "the sweep was stopped before this group started")
                    else:
                        job.unit_failed(sweep, unit, _reason(error))
                except Exception as error:  # noqa: BLE001 - the task failed: its trials say why, the others go on
                    job.unit_failed(sweep, unit, _reason(error))
                else:
                    job.save_unit(sweep, unit)
    finally:
        ray.kill(progress)


def _reason(error: BaseException) -> str:
    """A task's failure in one line: the error raised in the task, not Ray's wrapping of it."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
