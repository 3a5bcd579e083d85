"""Sweeps in the background: ``SweepJob`` trains in a worker process (``core.jobs.worker``), or in a
thread of this process, and is read through ``SweepSnapshot``s."""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from core import metrics
from core.analysis.tables import analysis_rows, reference_points
from core.store.errors import StoreError
from core.jobs.fit import ACTIVE_STATES, DONE, FAILED, RUNNING, STOPPED, WAITING
from core.training import TrainControl

_ids = itertools.count(1)
KILL_AFTER = 10.0  # seconds a sweep's worker has to answer Stop before it is ended


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


def _sweep_slots() -> threading.BoundedSemaphore:
    """At most ``$SAE_EXPLORER_MAX_SWEEPS`` (default 1) sweeps train at once in this process; others wait."""
    global _SWEEP_SLOTS
    with _SWEEP_SLOTS_LOCK:
        if _SWEEP_SLOTS is None:
            _SWEEP_SLOTS = threading.BoundedSemaphore(max(1, int(os.environ.get("SAE_EXPLORER_MAX_SWEEPS", "1"))))
        return _SWEEP_SLOTS


_SWEEP_SLOTS: threading.BoundedSemaphore | None = None
_SWEEP_SLOTS_LOCK = threading.Lock()
_TRAINING: set[int] = set()  # ids of the sweeps that hold a slot now


def sweeps_training() -> int:
    """How many sweeps train in this process now (every session's; those waiting for a slot not counted)."""
    return len(_TRAINING)


class SweepJob:
    """Sweeps of one parameter over the same values for one or more models (``core.sweep``: points of one
    shape train together, one batched step), each point saved to the run store as it finishes its sweep,
    then PCA/NMF reference points of the same ranks. It trains in a worker process of its own (as the
    Train page's runs do, so the web server's pages stay live), or in a thread with ``processes=False``
    (default: ``$SAE_EXPLORER_JOB_PROCESSES``, on unless 0).

    Read it with ``snapshot()``; ``stop()`` ends the current group with its weights so far (saved as
    ``stopped``) and skips the rest. A sweep nobody has read for ``idle_timeout`` seconds (a closed tab)
    stops itself; sweeps beyond the process's slots (``$SAE_EXPLORER_MAX_SWEEPS``) wait in line.
    """

    def __init__(self, X, *, models_: Sequence[str], param: str, values: Sequence[Any],
                 base_params: dict[str, dict[str, Any]] | None = None, store=None, dataset: str = "",
                 data_options: dict[str, Any] | None = None, image_shape=None, references: bool = True,
                 reference_steps: int = 200, idle_timeout: float | None = None, processes: bool | None = None):
        from core.sweep import Sweep, SweepConfig

        if not models_:
            raise ValueError("Pick at least one model to sweep.")
        self.id = next(_ids)
        self.X = np.asarray(metrics.as_numpy(X), dtype=np.float32)
        self.param, self.values = param, list(values)
        self.models, self.base_params = list(models_), dict(base_params or {})
        self.processes = (os.environ.get("SAE_EXPLORER_JOB_PROCESSES", "1").strip() != "0"
                          if processes is None else bool(processes))
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
        self._state, self._progress, self._message = WAITING, 0.0, "Starting ..."
        self._rows: list[dict[str, Any]] = []
        self._records: list[Any] = []
        self._references: list[dict[str, Any]] = []
        self._error: str | None = None
        self._can_save, self._save_error = True, None  # a read-only or full store: train, show, don't save
        self._started = time.monotonic()
        self._ended: float | None = None
        self._thread: threading.Thread | None = None
        self._remote_done = threading.Event()  # the worker process said the sweep ended (or died)
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

    @property
    def active(self) -> bool:
        return self._state in ACTIVE_STATES

    def touch(self) -> None:
        """Refresh the heartbeat: somebody is still looking at this sweep (from any page)."""
        self.last_seen = time.monotonic()

    def snapshot(self, touch: bool = True) -> SweepSnapshot:
        if touch:
            self.touch()
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
                self._set(state=STOPPED, message="Stopped before it started.", ended=time.monotonic())
                return
        _TRAINING.add(self.id)
        try:
            self._set(state=RUNNING, started=time.monotonic())
            if self.processes:
                self._train_in_worker()
            else:
                torch.set_num_threads(torch_threads())
                self._train()
        finally:
            _TRAINING.discard(self.id)
            slots.release()

    def _idle(self) -> bool:
        return time.monotonic() - self.last_seen > self.idle_timeout

    def _train_in_worker(self) -> None:
        """Send the sweep to a fresh worker process and relay Stop (or a closed tab) until it ends."""
        from core.jobs import Worker, torch_threads

        worker = Worker(torch_threads())
        try:
            worker.run(self)
            told = None  # when Stop was passed on
            while not self._remote_done.wait(0.25):
                if self._idle():
                    self.control.request_stop()  # nobody is looking any more (a closed tab)
                if self.control.stop_requested and told is None:
                    worker.send_control(self.id, "stop")
                    told = time.monotonic()
                if told is not None and time.monotonic() - told > KILL_AFTER:
                    worker.kill()  # a step or reference fit that never checks Stop: free the sweep slot
        finally:
            worker.close()

    # what a worker process runs, and the events it sends back (core.jobs.worker)
    def task(self) -> tuple:
        spec = {"X": self.X, "models_": self.models, "param": self.param, "values": self.values,
                "base_params": self.base_params, "dataset": self.dataset, "data_options": self.data_options,
                "image_shape": self.image_shape, "references": self.with_references,
                "reference_steps": self.reference_steps, "sweep_ids": [s.id for s in self.sweeps],
                "store_root": str(self.store.root) if self.store is not None else None}
        return ("sweep", spec)

    def begin(self) -> None:
        pass

    def publish(self, values: dict[str, Any]) -> None:
        self._set(**values)

    def finish(self) -> None:
        self._remote_done.set()

    def fail(self, error: str) -> None:
        stopped = self.control.stop_requested  # its process was ended after Stop: the points saved stay
        self._set(state=STOPPED if stopped else FAILED, error=error, message="Stopped." if stopped else "Failed.",
                  ended=time.monotonic())
        self._remote_done.set()

    def _train(self) -> None:
        try:
            n = len(self.sweeps)
            for i, sweep in enumerate(self.sweeps):
                if self.control.stop_requested:
                    break
                label = f"{sweep.config.model}: {self.param} over {len(self.values)} values"
                self._set(message=f"Training {label}" + (" (batched)" if sweep.batched else ""))
                for row in sweep.steps(self.X, self.control):
                    if self._idle():
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
        from core.sweep import FINISHED

        return self.store.save_run(
            point.estimator, dataset=self.dataset, data_options=self.data_options, metrics=scores,
            image_shape=self.image_shape, name=f"{sweep.config.model} {self.param}={point.value}",
            status="finished" if point.status == FINISHED else "stopped", sweep=sweep.id,
            extra={"sweep_param": self.param, "sweep_value": point.value, "sweep_point": point.index,
                   "sweep_status": point.status, "batched": sweep.batched})


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


def run_sweep_task(spec: dict[str, Any], control: TrainControl, events) -> None:
    """Inside a worker process (``core.jobs.worker``): train the sweep ``spec`` describes, saving to the
    same run store, with the parent's sweep ids, and publish its state through ``events``."""
    from core.store import RunStore

    spec = dict(spec)
    root, ids = spec.pop("store_root"), spec.pop("sweep_ids")
    try:
        job = _SweepInWorker(store=RunStore(root, recover=False) if root else None, processes=False,
                             idle_timeout=float("inf"), **spec)
    except Exception as error:  # noqa: BLE001 - said on the page, not as "the process ended unexpectedly"
        events.publish({"state": FAILED, "error": str(error), "message": "Failed.", "ended": time.monotonic()})
        return
    for sweep, sweep_id in zip(job.sweeps, ids):
        sweep.id = sweep_id  # the parent's ids: its page lists the saved points by them
    job.control, job.events = control, events
    job._set(state=RUNNING, started=time.monotonic())
    job._train()
