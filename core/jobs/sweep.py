"""Sweeps in the background: a ``SweepJob`` is a job of ``core.jobs.manager.JobManager`` (its slot limit,
idle timeout and kill of a run that ignores Stop), trains in a worker process (``core.jobs.worker``) or
in a thread of this process, and is read through ``SweepSnapshot``s."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from core import metrics
from core.analysis.tables import analysis_rows, reference_points
from core.jobs.base import Job
from core.jobs.fit import SweepFiring
from core.jobs.job import torch_threads
from core.jobs.manager import JobManager, get_manager
from core.jobs.saving import save_sweep_point
from core.jobs.settings import job_settings
from core.jobs.worker import EventSink, register_task
from core.states import ACTIVE_STATES, DONE, FAILED, RUNNING, STOPPED, WAITING
from core.store.errors import StoreError
from core.training import TrainControl

#: where the trials train: this process's worker, or a Ray cluster (core.jobs.ray_backend)
BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class SweepSnapshot:
    """A consistent copy of a ``SweepJob``'s state."""

    state: str
    progress: float
    message: str
    rows: list[dict[str, Any]]
    records: list[Any]
    references: list[dict[str, Any]]
    sweep_ids: list[str]
    notes: list[str]
    error: str | None
    seconds: float
    grid: dict[str, list[Any]] = None  # type: ignore[assignment]  # the swept grid (parameter -> values)
    seeds: list[int] = None  # type: ignore[assignment]
    backend: str = "local"
    group: str = ""  # the id every trial of this job is saved with (``SweepJob.group``)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def sweeps_training() -> int:
    """How many sweeps train on this server now (every session's; those waiting for a slot not counted)."""
    return get_manager().running_of("sweep")


class SweepJob(Job):
    """Sweeps of a grid of parameters times seeds (``core.sweep``) for one or more models, each trial saved to
    the run store as soon as its group (a batched stack, or one point) ends, then the baselines: PCA and NMF
    at each ``n_components`` of the grid (or the base one). The app submits it to the server's
    ``JobManager`` (``get_manager().submit_job(owner, job)``): it waits for a slot like any run (at most
    ``$SAE_EXPLORER_MAX_SWEEPS`` sweeps at once), trains in a worker process, and is stopped when nobody
    has read it for the job timeout. ``start()`` runs it alone instead, under a manager of its own
    (a notebook, a test), in a worker process or, with ``processes=False``, a thread.

    ``backend="ray"`` sends the groups to a Ray cluster (``core.jobs.ray_backend``; ``ray_address``, else
    ``$RAY_ADDRESS``, else a local one), each a Ray task with its CPU/GPU request. ``param``/``values`` are the
    one-parameter form of ``grid``; ``references`` the older name of ``baselines``.

    Read it with ``snapshot()``: a row per trial with ``model``, ``params``, ``seed``, the grid values (also
    flat, e.g. ``k``), ``status``, the metrics, ``seconds``, ``device`` and ``run_id``. ``stop()`` ends the
    groups training with their weights so far (saved as ``stopped``) and skips the rest.
    """

    kind = "sweep"

    def __init__(self, X, *, models_: Sequence[str], grid: dict[str, Sequence[Any]] | None = None,
                 seeds: Sequence[int] | None = None, param: str | None = None, values: Sequence[Any] | None = None,
                 base_params: dict[str, dict[str, Any]] | None = None, store=None, dataset: str = "",
                 data_options: dict[str, Any] | None = None, image_shape=None, baselines: bool | None = None,
                 references: bool = True, reference_steps: int = 200, backend: str = "local",
                 ray_address: str | None = None, idle_timeout: float | None = None, processes: bool | None = None):
        from core.sweep import Sweep, SweepConfig

        if not models_:
            raise ValueError("Pick at least one model to sweep.")
        if backend not in BACKENDS:
            raise ValueError(f"Unknown sweep backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
        if backend == "ray":  # said now, in the page or the CLI, not once the job runs
            from core.jobs.ray_backend import require_ray

            require_ray()
        super().__init__()
        self.X = np.asarray(metrics.as_numpy(X), dtype=np.float32)
        if param is not None:
            grid = {param: list(values or [])}
        self.grid = {str(name): list(v) for name, v in (grid or {}).items()}
        self.seeds = None if seeds is None else [int(seed) for seed in seeds]
        self.param = next(iter(self.grid)) if len(self.grid) == 1 else None
        self.values = self.grid[self.param] if self.param else None
        self.models, self.base_params = list(models_), dict(base_params or {})
        self.backend, self.ray_address = backend, ray_address
        settings = job_settings()
        self.processes = settings.processes if processes is None else bool(processes)
        self.store, self.dataset, self.data_options = store, dataset, dict(data_options or {})
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.with_references = references if baselines is None else bool(baselines)
        self.reference_steps = int(reference_steps)
        self.sweeps = []
        for name in models_:
            size = self.base_params.get(name, {}).get("n_components")
            ks = self.grid.get("k") if "n_components" not in self.grid else None
            if ks and size and max(ks) > int(size):
                raise ValueError(f"k = {max(ks)} is more than the {size} atoms of each run; "
                                 f"use values of k up to {size}, or more atoms.")
        for name in models_:  # built now: a bad parameter fails here, in the page, not in the thread
            params = {key: v for key, v in self.base_params.get(name, {}).items() if key not in self.grid}
            self.sweeps.append(Sweep(SweepConfig(model=name, grid=self.grid, seeds=self.seeds, base_params=params)))
        self._progress, self._message = 0.0, "Starting ..."
        self._rows: list[dict[str, Any]] = []
        self._records: list[Any] = []
        self._references: list[dict[str, Any]] = []
        self._error: str | None = None
        self._can_save, self._save_error = True, None  # a read-only or full store: train, show, don't save
        self._ended: float | None = None
        self._alone: threading.Thread | None = None  # start(): ends its own manager once the sweep ends
        self.idle_timeout = settings.idle_timeout if idle_timeout is None else float(idle_timeout)
        #: called (in the sweep's thread) with (sweep, point, row) as each trial ends; the CLI prints it
        self.on_trial: Callable[[Any, Any, dict[str, Any]], None] | None = None

    @property
    def group(self) -> str:
        """The id that groups every model's trials of this job in the store (their records' extra
        ``sweep_group``): the first model's sweep id, so that a one-model sweep's group is its sweep id."""
        return self.sweeps[0].id

    @property
    def trials(self) -> int:
        return sum(len(sweep.points) for sweep in self.sweeps)

    @property
    def notes(self) -> list[str]:
        notes = [f"{s.config.model}: {note}" for s in self.sweeps for note in s.notes]
        return notes + ([self._save_error] if self._save_error else [])

    def start(self) -> "SweepJob":
        """Train alone, under a job manager of its own (one slot, this sweep's idle timeout), whose worker
        process ends with the sweep; the app submits to ``get_manager()`` instead."""
        manager = JobManager(max_running=1, idle_timeout=self.idle_timeout, processes=self.processes)
        manager.submit_job(f"sweep-{self.id}", self)

        def close_when_done() -> None:
            self._done.wait()
            manager.shutdown()

        self._alone = threading.Thread(target=close_when_done, name=f"sweep-job-{self.id}", daemon=True)
        self._alone.start()
        return self

    def _stopped_while_waiting(self) -> None:
        self._message, self._ended = "Stopped before it started.", time.monotonic()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the sweep has ended (and, after ``start()``, its worker process with it)."""
        if self._alone is not None and self._alone is not threading.current_thread():  # not its own shutdown
            self._alone.join(timeout)
            return not self._alone.is_alive()
        return self._done.wait(timeout)

    def snapshot(self, touch: bool = True) -> SweepSnapshot:
        if touch:
            self.touch()
        with self._lock:
            end = self._ended if self._ended is not None else time.monotonic()
            message = self._message
            if self._state == WAITING and self._queue_position is not None:
                message = "for a free slot: other runs are training on this server."  # after "Waiting"
            return SweepSnapshot(state=self._state, progress=self._progress, message=message,
                                 rows=list(self._rows), records=list(self._records),
                                 references=list(self._references), sweep_ids=[s.id for s in self.sweeps],
                                 notes=self.notes, error=self._error, seconds=end - self._started,
                                 grid={k: list(v) for k, v in self.grid.items()},
                                 seeds=list(self.sweeps[0].config.seeds), backend=self.backend,
                                 group=self.group)

    def _set(self, **values: Any) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(self, f"_{name}", value)

    # -- what JobManager runs ----------------------------------------------------------------------------
    def _run_here(self) -> None:
        import torch

        torch.set_num_threads(torch_threads())
        self._train()
        self.finish()

    def task(self) -> tuple:
        """What a worker process runs: this module's ``sweep`` task, with the sweep's settings."""
        spec = {"X": self.X, "models_": self.models, "grid": self.grid, "seeds": self.seeds,
                "base_params": self.base_params, "backend": self.backend, "ray_address": self.ray_address,
                "dataset": self.dataset, "data_options": self.data_options,
                "image_shape": self.image_shape, "references": self.with_references,
                "reference_steps": self.reference_steps, "sweep_ids": [s.id for s in self.sweeps],
                "store_root": str(self.store.root) if self.store is not None else None}
        return (__name__, "sweep", spec)

    def publish(self, values: dict[str, Any]) -> None:
        self._set(**values)

    def finish(self) -> None:
        """The sweep ended (its state already says how)."""
        self._end()

    def fail(self, error: str) -> None:
        stopped = self.control.stop_requested  # its process was ended after Stop: the points saved stay
        self._set(state=STOPPED if stopped else FAILED, error=error, message="Stopped." if stopped else "Failed.",
                  ended=time.monotonic())
        self.finish()

    def _train(self) -> None:
        try:
            if self.backend == "ray":
                from core.jobs.ray_backend import train_on_ray

                train_on_ray(self)
            else:
                self._train_here()
            if self.with_references and not self.control.stop_requested:
                self._set(message="Baselines: PCA and NMF of the same sizes ...")
                self._set(references=reference_points(self.X, self.baseline_ranks(), nmf_steps=self.reference_steps))
            stopped = self.control.stop_requested
            failed = sum(row["status"] == FAILED for row in self._rows)
            end = ("Stopped." if self._save_error else "Stopped: the points trained so far are saved.") if stopped \
                else "Done." + (f" {failed} of {self.trials} trials failed." if failed else "")
            self._set(state=STOPPED if stopped else DONE, progress=self._progress if stopped else 1.0, message=end)
        except Exception as error:  # noqa: BLE001 - shown by the page, the app goes on
            self._set(state=FAILED, error=str(error), message="Failed.")
        finally:
            self._set(ended=time.monotonic())

    def baseline_ranks(self) -> list[int]:
        """The sizes the baselines are fitted at: every trial's ``n_components`` (the grid's or the base one)."""
        return sorted({int(p.params.get("n_components") or 0) for s in self.sweeps for p in s.points} - {0})

    def _train_here(self) -> None:
        """The local backend: each model's units (a batched group, or one point) in turn, in this process."""
        X = [sweep.prepare(self.X) for sweep in self.sweeps]
        for sweep, X_sweep in zip(self.sweeps, X):
            sweep.observer = SweepFiring(X_sweep)  # Inspect's firing density over training, as for a Train run
        planned = [[sweep.unit_steps(u) for u in sweep.units()] for sweep in self.sweeps]
        total, done = sum(map(sum, planned)), 0
        for sweep, X_sweep, steps in zip(self.sweeps, X, planned):
            label = f"{sweep.config.model}: {len(sweep.points)} trials" + (" (batched)" if sweep.batched else "")
            for unit, unit_steps in zip(sweep.units(), steps):
                if self.control.stop_requested:
                    sweep.skip(unit)
                    continue
                self._set(message=f"Training {label}")
                try:
                    for row in sweep.train_unit(unit, X_sweep, self.control):
                        where = (f"{len(unit)} trials as one stack" if len(unit) > 1
                                 else sweep.points[row.get("point", unit[0])].label)
                        self._set(progress=(done + row["step"]) / total,
                                  message=f"Training {label} · step {row['step']} · {where}")
                except Exception as error:  # noqa: BLE001 - this group failed; the others go on
                    self.unit_failed(sweep, unit, error)
                else:
                    self.save_unit(sweep, unit)
                done += unit_steps

    def unit_failed(self, sweep, unit: Sequence[int], error: BaseException | str) -> None:
        """The trials of ``unit`` failed (an error, not a divergence): a row each says why; the others go on."""
        note = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
        for i in unit:
            point = sweep.points[i]
            point.status, point.note, point.estimator = FAILED, note, None
            self._add_row(sweep, point, None)

    def save_unit(self, sweep, unit: Sequence[int]) -> None:
        """Evaluate and store the trained points of ``unit`` (a group, or one point) as it ends; a row each."""
        evaluated = self.X[analysis_rows(self.X.shape[0], 10_000)]
        for point in (sweep.points[i] for i in unit):
            if point.estimator is None:
                continue
            scores = {**metrics.evaluate(point.estimator, evaluated), "seconds": float(point.seconds)}
            self._add_row(sweep, point, scores)

    def _add_row(self, sweep, point, scores: dict[str, Any] | None) -> None:
        """The snapshot's row for ``point`` (saved to the store first when it has weights and scores)."""
        table_row = trial_row(sweep, point, scores or {}, self.backend)
        if scores is None:
            table_row["seconds"] = None  # a failed trial has no training time to show
        if scores is not None and self.store is not None and self._can_save:
            try:
                record = self._save_point(sweep, point, scores, table_row["device"])
            except StoreError as error:  # trained anyway: the table still shows every point
                self._can_save = False
                self._set(save_error=f"The points are not saved: {error}")
            else:
                table_row["run_id"] = record.id
                self._add("records", record)
        self._add("rows", table_row)
        if self.on_trial is not None:
            self.on_trial(sweep, point, table_row)

    def _add(self, name: str, item: Any) -> None:
        with self._lock:
            getattr(self, f"_{name}").append(item)

    def _save_point(self, sweep, point, scores, device: str):
        return save_sweep_point(self.store, sweep, point, dataset=self.dataset, data_options=self.data_options,
                                metrics=scores, image_shape=self.image_shape, device=device,
                                group=self.group)


def trial_row(sweep, point, scores: dict[str, Any], backend: str = "local") -> dict[str, Any]:
    """One trial as a row of the snapshot (and of the CLI): its model, parameters, seed, grid values, status,
    metrics, seconds and device; ``run_id`` once saved."""
    from core.device import resolve_device

    try:
        device = resolve_device(point.params.get("device", "auto")).type
    except ValueError:  # cuda asked for where there is none: the trial failed, say where it was meant to run
        device = str(point.params.get("device"))
    return {"model": sweep.config.model, "params": dict(point.params), "seed": point.seed, **point.grid_values,
            "param": sweep.config.param, "value": point.value, "label": point.label, "status": point.status,
            **scores, "seconds": scores.get("seconds", float(point.seconds)), "device": device,
            "note": point.note, "point": point.index, "sweep_id": sweep.id, "backend": backend, "run_id": None}


class _SweepInWorker(SweepJob):
    """The sweep as it runs inside a worker process: every change of its state also goes to the parent."""

    events: Any = None

    def _set(self, **values: Any) -> None:
        super()._set(**values)
        self.events.publish(values)

    def _add(self, name: str, item: Any) -> None:
        super()._add(name, item)
        with self._lock:
            self.events.publish({name: list(getattr(self, f"_{name}"))})


def sweep_task(events, job_id: int, control: TrainControl, spec: dict[str, Any]) -> None:
    """The worker's ``sweep`` task: ``run_sweep``, then the end of the job to the parent."""
    run_sweep(spec, control, EventSink(events, job_id))
    events.send(("end", job_id))


def run_sweep(spec: dict[str, Any], control: TrainControl, events) -> None:
    """Inside a worker process (``core.jobs.worker``): train the sweep ``spec`` describes, saving to the
    same run store, with the parent's sweep ids, and publish its state through ``events``."""
    from core.store import RunStore

    spec = dict(spec)
    root, ids = spec.pop("store_root"), spec.pop("sweep_ids")
    try:
        job = _SweepInWorker(store=RunStore(root, recover=False) if root else None, processes=False, **spec)
    except Exception as error:  # noqa: BLE001 - said on the page, not as "the process ended unexpectedly"
        events.publish({"state": FAILED, "error": str(error), "message": "Failed.", "ended": time.monotonic()})
        return
    for sweep, sweep_id in zip(job.sweeps, ids):
        sweep.id = sweep_id  # the parent's ids: its page lists the saved points by them
    job.control, job.events = control, events
    job._set(state=RUNNING, started=time.monotonic())
    job._train()


register_task("sweep", sweep_task)
