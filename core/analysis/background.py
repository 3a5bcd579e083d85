"""Background work owned by core: saving a training job when it ends, and sweeps in a thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from core import metrics
from core.store.errors import StoreWriteError
from core.training import TrainControl
from core.analysis.tables import analysis_rows, reference_points, training_seconds


# -- saving training jobs to the run store ---------------------------------------------------------------------
def save_job(store, job, *, dataset: str | None = None, data_options: dict[str, Any] | None = None,
             name: str | None = None, extra: dict[str, Any] | None = None, run_id: str | None = None):
    """Save an ended ``core.jobs.TrainingJob`` to ``store`` (a ``core.store.RunStore``); returns its record,
    or None when there is nothing to save (the job failed before any weights, or has not ended).

    A done job is saved ``finished``; a stopped or diverged one ``stopped`` (diverged runs keep their
    last good weights). The metrics are the job's final ones plus its training time (``seconds``).
    ``run_id`` is a run recorded by ``store.begin_run`` at the job's start: it is completed (or closed as
    failed when there is nothing to save) instead of a new run being made.
    """
    from core.jobs import DIVERGED, DONE, STOPPED

    snap = job.snapshot(touch=False)
    if snap.state not in (DONE, STOPPED, DIVERGED) or not hasattr(job.model, "components_"):
        if run_id is not None and not snap.active:
            store.abandon_run(run_id, note=snap.error or "the run ended without weights")
        return None
    metric_values = {**snap.metrics, "seconds": training_seconds(snap.history)}
    more = {"job_state": snap.state, **({"error": snap.error} if snap.error else {}), **(extra or {})}
    outcome = dict(status="finished" if snap.state == DONE else "stopped", metrics=metric_values,
                   history=snap.history, X=None if snap.metrics else job.X, image_shape=job.image_shape,
                   extra=more)
    if run_id is not None:
        return store.finish_run(run_id, job.model, **outcome)
    return store.save_run(job.model, dataset=dataset or job.dataset_name, data_options=data_options or {},
                          name=name, **outcome)


@dataclass
class SaveTicket:
    """The result of ``save_when_done``: ``done`` is set once the job ended and the save was tried."""

    done: threading.Event = field(default_factory=threading.Event)
    record: Any = None
    error: str | None = None

    @property
    def run_id(self) -> str | None:
        return getattr(self.record, "id", None)


def save_when_done(job, store=None, **save_options) -> SaveTicket:
    """Wait (in a daemon thread) for ``job`` to end, then ``save_job`` it; returns a ticket to read later.

    ``store`` defaults to ``RunStore()`` (``$SAE_EXPLORER_RUNS``). Call it right after submitting a job,
    e.g. in the Train page's runner, so that every finished or stopped run lands in the store even
    when nobody is looking at the page when it ends.
    """
    ticket = SaveTicket()

    def _work() -> None:
        try:
            from core.store import RunStore

            run_store = store if store is not None else RunStore()
            # recorded now, so that a server killed mid-run leaves it marked 'interrupted'
            run_id = run_store.begin_run(job.model, dataset=save_options.get("dataset") or job.dataset_name,
                                         data_options=save_options.get("data_options"),
                                         name=save_options.get("name"), extra=save_options.get("extra"))
            job.wait()
            ticket.record = save_job(run_store, job, run_id=run_id, **save_options)
        except Exception as error:  # noqa: BLE001 - reported on the ticket, shown by the page
            ticket.error = f"The run could not be saved: {error}"
        finally:
            ticket.done.set()

    threading.Thread(target=_work, name=f"save-job-{getattr(job, 'id', '')}", daemon=True).start()
    return ticket


# -- a sweep in the background ----------------------------------------------------------------------------------
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
        return self.state in ("waiting", "running")


def _sweep_slots() -> threading.BoundedSemaphore:
    """At most ``$SAE_EXPLORER_MAX_SWEEPS`` (default 1) sweeps train at once in this process; others wait."""
    global _SWEEP_SLOTS
    with _SWEEP_SLOTS_LOCK:
        if _SWEEP_SLOTS is None:
            import os

            _SWEEP_SLOTS = threading.BoundedSemaphore(max(1, int(os.environ.get("SAE_EXPLORER_MAX_SWEEPS", "1"))))
        return _SWEEP_SLOTS


_SWEEP_SLOTS: threading.BoundedSemaphore | None = None
_SWEEP_SLOTS_LOCK = threading.Lock()


class SweepJob:
    """Sweeps of one parameter over the same values for one or more models, trained in a daemon thread
    (``core.sweep``: points of one shape train together, one batched step), each point saved to the run
    store as it finishes its sweep, then PCA/NMF reference points of the same ranks.

    Read it with ``snapshot()``; ``stop()`` ends the current group with its weights so far (saved as
    ``stopped``) and skips the rest. A sweep nobody has read for ``idle_timeout`` seconds (a closed tab)
    stops itself; sweeps beyond the process's slots (``$SAE_EXPLORER_MAX_SWEEPS``) wait in line.
    """

    def __init__(self, X, *, models_: Sequence[str], param: str, values: Sequence[Any],
                 base_params: dict[str, dict[str, Any]] | None = None, store=None, dataset: str = "",
                 data_options: dict[str, Any] | None = None, image_shape=None, references: bool = True,
                 reference_steps: int = 200, idle_timeout: float | None = None):
        import os

        from core.sweep import Sweep, SweepConfig

        if not models_:
            raise ValueError("Pick at least one model to sweep.")
        self.X = np.asarray(metrics.as_numpy(X), dtype=np.float32)
        self.param, self.values = param, list(values)
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
        self.control = TrainControl()
        self._lock = threading.Lock()
        self._state, self._progress, self._message = "waiting", 0.0, "Starting ..."
        self._rows: list[dict[str, Any]] = []
        self._records: list[Any] = []
        self._references: list[dict[str, Any]] = []
        self._error: str | None = None
        self._can_save, self._save_error = True, None  # a read-only or full store: train, show, don't save
        self._started = time.monotonic()
        self._ended: float | None = None
        self._thread: threading.Thread | None = None
        self.idle_timeout = float(idle_timeout if idle_timeout is not None
                                  else os.environ.get("SAE_EXPLORER_JOB_TIMEOUT", "45"))
        self.last_seen = time.monotonic()

    @property
    def notes(self) -> list[str]:
        notes = [f"{s.config.model}: {note}" for s in self.sweeps for note in s.notes]
        return notes + ([self._save_error] if self._save_error else [])

    def start(self) -> "SweepJob":
        self._thread = threading.Thread(target=self._run, name="sweep-job", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.control.request_stop()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not (self._thread is not None and self._thread.is_alive())

    def snapshot(self, touch: bool = True) -> SweepSnapshot:
        if touch:
            self.last_seen = time.monotonic()
        with self._lock:
            end = self._ended if self._ended is not None else time.monotonic()
            return SweepSnapshot(state=self._state, progress=self._progress, message=self._message,
                                 rows=list(self._rows), records=list(self._records),
                                 references=list(self._references), sweep_ids=[s.id for s in self.sweeps],
                                 notes=self.notes, error=self._error, seconds=end - self._started)

    def _set(self, **values: Any) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(self, f"_{name}", value)

    def _run(self) -> None:
        import torch

        from core.jobs import torch_threads

        slots = _sweep_slots()
        while not slots.acquire(timeout=0.2):
            self._set(message="Waiting for a free sweep slot: another sweep is training on this server.")
            if self.control.stop_requested:
                self._set(state="stopped", message="Stopped before it started.", ended=time.monotonic())
                return
        try:
            torch.set_num_threads(torch_threads())
            self._set(state="running", started=time.monotonic())
            self._train()
        finally:
            slots.release()

    def _train(self) -> None:
        try:
            n = len(self.sweeps)
            for i, sweep in enumerate(self.sweeps):
                if self.control.stop_requested:
                    break
                label = f"{sweep.config.model}: {self.param} over {len(self.values)} values"
                self._set(message=f"Training {label}" + (" (batched)" if sweep.batched else ""))
                for row in sweep.steps(self.X, self.control):
                    if time.monotonic() - self.last_seen > self.idle_timeout:
                        self.control.request_stop()  # nobody is looking any more (a closed tab)
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
            self._set(state="stopped" if stopped else "done", progress=self._progress if stopped else 1.0,
                      message=("Stopped." if self._save_error else "Stopped: the points trained so far are saved.")
                      if stopped else "Done.")
        except Exception as error:  # noqa: BLE001 - shown by the page, the app goes on
            self._set(state="failed", error=str(error), message="Failed.")
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
                except StoreWriteError as error:  # trained anyway: the table still shows every point
                    self._can_save = False
                    with self._lock:
                        self._save_error = f"The points are not saved: {error}"
                else:
                    table_row["run_id"] = record.id
                    with self._lock:
                        self._records.append(record)
            with self._lock:
                self._rows.append(table_row)

    def _save_point(self, sweep, point, scores):
        from core.sweep import FINISHED

        return self.store.save_run(
            point.estimator, dataset=self.dataset, data_options=self.data_options, metrics=scores,
            image_shape=self.image_shape, name=f"{sweep.config.model} {self.param}={point.value}",
            status="finished" if point.status == FINISHED else "stopped", sweep=sweep.id,
            extra={"sweep_param": self.param, "sweep_value": point.value, "sweep_point": point.index,
                   "sweep_status": point.status, "batched": sweep.batched})
