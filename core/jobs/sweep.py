"""Sweeps in the background: a ``SweepJob`` is a job of ``core.jobs.manager.JobManager`` (its slot limit,
idle timeout and kill of a run that ignores Stop), trains in a worker process (``core.jobs.worker``) or
in a thread of this process, and is read through ``SweepSnapshot``s."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from core import metrics
from core.analysis.tables import analysis_rows, reference_points
from core.jobs.base import Job
from core.jobs.job import torch_threads
from core.jobs.manager import JobManager, get_manager
from core.jobs.saving import save_sweep_point
from core.jobs.settings import job_settings
from core.jobs.worker import EventSink, register_task
from core.states import ACTIVE_STATES, DONE, FAILED, RUNNING, STOPPED, WAITING
from core.store.errors import StoreError
from core.training import TrainControl


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

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def sweeps_training() -> int:
    """How many sweeps train on this server now (every session's; those waiting for a slot not counted)."""
    return get_manager().running_of("sweep")


class SweepJob(Job):
    """Sweeps of one parameter over the same values for one or more models (``core.sweep``: points of one
    shape train together, one batched step), each point saved to the run store as it finishes its sweep,
    then PCA/NMF reference points of the same ranks. The app submits it to the server's ``JobManager``
    (``get_manager().submit_job(owner, job)``): it waits for a slot like any run (at most
    ``$SAE_EXPLORER_MAX_SWEEPS`` sweeps at once), trains in a worker process, and is stopped when nobody
    has read it for the job timeout. ``start()`` runs it alone instead, under a manager of its own
    (a notebook, a test), in a worker process or, with ``processes=False``, a thread.

    Read it with ``snapshot()``; ``stop()`` ends the current group with its weights so far (saved as
    ``stopped``) and skips the rest.
    """

    kind = "sweep"

    def __init__(self, X, *, models_: Sequence[str], param: str, values: Sequence[Any],
                 base_params: dict[str, dict[str, Any]] | None = None, store=None, dataset: str = "",
                 data_options: dict[str, Any] | None = None, image_shape=None, references: bool = True,
                 reference_steps: int = 200, idle_timeout: float | None = None, processes: bool | None = None):
        from core.sweep import Sweep, SweepConfig

        if not models_:
            raise ValueError("Pick at least one model to sweep.")
        super().__init__()
        self.X = np.asarray(metrics.as_numpy(X), dtype=np.float32)
        self.param, self.values = param, list(values)
        self.models, self.base_params = list(models_), dict(base_params or {})
        settings = job_settings()
        self.processes = settings.processes if processes is None else bool(processes)
        self.store, self.dataset, self.data_options = store, dataset, dict(data_options or {})
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.with_references, self.reference_steps = references, int(reference_steps)
        self.sweeps = []
        for name in models_:
            size = (base_params or {}).get(name, {}).get("n_components")
            if param == "k" and size and max(self.values) > int(size):
                raise ValueError(f"k = {max(self.values)} is more than the {size} atoms of each run; "
                                 f"use values of k up to {size}, or more atoms.")
        for name in models_:  # built now: a bad parameter fails here, in the page, not in the thread
            params = dict((base_params or {}).get(name, {}))
            params.pop(param, None)
            self.sweeps.append(Sweep(SweepConfig(model=name, param=param, values=self.values, base_params=params)))
        self._progress, self._message = 0.0, "Starting ..."
        self._rows: list[dict[str, Any]] = []
        self._records: list[Any] = []
        self._references: list[dict[str, Any]] = []
        self._error: str | None = None
        self._can_save, self._save_error = True, None  # a read-only or full store: train, show, don't save
        self._ended: float | None = None
        self._alone: threading.Thread | None = None  # start(): ends its own manager once the sweep ends
        self.idle_timeout = settings.idle_timeout if idle_timeout is None else float(idle_timeout)

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
                                 notes=self.notes, error=self._error, seconds=end - self._started)

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
        spec = {"X": self.X, "models_": self.models, "param": self.param, "values": self.values,
                "base_params": self.base_params, "dataset": self.dataset, "data_options": self.data_options,
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
            n = len(self.sweeps)
            for i, sweep in enumerate(self.sweeps):
                if self.control.stop_requested:
                    break
                label = f"{sweep.config.model}: {self.param} over {len(self.values)} values"
                self._set(message=f"Training {label}" + (" (batched)" if sweep.batched else ""))
                for row in sweep.steps(self.X, self.control):
                    self._set(progress=(i + row["progress"]) / n,
                              message=f"Training {label} · step {row['step']}"
                                      + (" (batched: all points at once)" if sweep.batched else
                                         f" · point {row['point'] + 1}"))
                self._save(sweep)
            if self.with_references and not self.control.stop_requested:
                self._set(message="Reference points: PCA and NMF of the same rank ...")
                ranks = {int(p.params.get("n_components") or 0) for s in self.sweeps for p in s.points}
                self._set(references=reference_points(self.X, [r for r in ranks if r > 0],
                                                      nmf_steps=self.reference_steps))
            stopped = self.control.stop_requested
            self._set(state=STOPPED if stopped else DONE, progress=self._progress if stopped else 1.0,
                      message=("Stopped." if self._save_error else "Stopped: the points trained so far are saved.")
                      if stopped else "Done.")
        except Exception as error:  # noqa: BLE001 - shown by the page, the app goes on
            self._set(state=FAILED, error=str(error), message="Failed.")
        finally:
            self._set(ended=time.monotonic())

    def _save(self, sweep) -> None:
        evaluated = self.X[analysis_rows(self.X.shape[0], 10_000)]
        for point in sweep.points:
            if point.estimator is None:
                continue
            scores = {**metrics.evaluate(point.estimator, evaluated), "seconds": point.seconds}
            table_row = {"model": sweep.config.model, "param": self.param, "value": point.value,
                         "status": point.status, **scores, "run_id": None}
            if self.store is not None and self._can_save:
                try:
                    record = self._save_point(sweep, point, scores)
                except StoreError as error:  # trained anyway: the table still shows every point
                    self._can_save = False
                    self._set(save_error=f"The points are not saved: {error}")
                else:
                    table_row["run_id"] = record.id
                    self._add("records", record)
            self._add("rows", table_row)

    def _add(self, name: str, item: Any) -> None:
        with self._lock:
            getattr(self, f"_{name}").append(item)

    def _save_point(self, sweep, point, scores):
        return save_sweep_point(self.store, sweep, point, dataset=self.dataset, data_options=self.data_options,
                                metrics=scores, image_shape=self.image_shape)


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
