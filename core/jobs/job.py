"""One training job: a model fitted on a data matrix in the background, read through snapshots.

A ``TrainingJob`` runs ``core.jobs.fit.run_fit`` either in a worker process (``start(worker)``, what
the app's ``JobManager`` does, so training never competes with the web server for Python's GIL) or in
a daemon thread of this process (``start()``, handy in a notebook). Either way the job appends every
metrics row to a history and keeps the latest atoms; a reader (the UI) only ever calls ``snapshot()``,
which copies that state under a lock and refreshes the job's heartbeat.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from core.jobs.base import Job
from core.jobs.fit import ACTIVE_STATES, DONE, FAILED, LOADING, RUNNING, STOPPED, run_fit


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a job's state at one moment; safe to read without locks."""

    job_id: int
    state: str
    model_name: str
    dataset_name: str
    params: dict[str, Any]
    history: list[dict[str, Any]]
    events: list[tuple[int, dict[str, Any]]]  # (step, live changes applied just before it)
    atoms: np.ndarray | None
    atoms_version: int  # grows by one each time new atoms are published
    max_steps: int
    steps_per_second: float
    reference_mse: float | None  # the rank-matched PCA error
    metrics: dict[str, float]  # core.metrics.evaluate on the whole data, once the run has ended
    error: str | None
    queue_position: int | None
    image_shape: tuple[int, int] | None = None
    phase: str | None = None  # what a starting run is doing (core.jobs.fit's phases); None once it trains

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def step(self) -> int:
        return int(self.history[-1]["step"]) if self.history else 0

    @property
    def progress(self) -> float:
        if self.state == DONE:
            return 1.0
        return min(1.0, self.step / self.max_steps) if self.max_steps else 0.0

    @property
    def last(self) -> dict[str, Any]:
        return self.history[-1] if self.history else {}


def torch_threads() -> int:
    """CPU threads per run: SAE_EXPLORER_TORCH_THREADS, else a quarter of the cores (1 to 4). Small models
    train several times faster on one thread than on oversubscribed cores shared with the web server."""
    value = os.environ.get("SAE_EXPLORER_TORCH_THREADS", "").strip()
    return max(1, int(value)) if value else max(1, min(4, (os.cpu_count() or 1) // 4))


class TrainingJob(Job):
    """Fits ``model`` on ``X`` in the background; read it with ``snapshot()``, steer it with
    ``update(**live_params)`` and ``stop()``, and block on it with ``wait()``. Iterative models (with
    ``fit_iter``) log a row every ``log_every`` steps; closed-form ones (PCA) log one row when done.
    A job run in a worker process gets its fitted model back when it ends (``job.model``).
    """

    kind = "fit"  # JobManager's word for it (a limit per kind, a count of sweeps)

    def __init__(self, model, X: np.ndarray, *, model_name: str = "", dataset_name: str = "",
                 params: dict[str, Any] | None = None, owner: str = "", image_shape=None,
                 atoms_every: float = 0.3, on_finish: Callable[["TrainingJob"], None] | None = None):
        super().__init__(owner, on_finish)
        self.model, self.X = model, X
        self.model_name, self.dataset_name = model_name, dataset_name
        self.params = dict(params if params is not None else model.get_params())
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.atoms_every = float(atoms_every)
        self.live_params: tuple[str, ...] = tuple(getattr(model, "_live_params", ()))
        self.began_at: float | None = None  # when its fit started (after any wait for a worker)
        # its id in the run store once core.jobs.saving recorded its start: the run's address (a page's ?run=)
        self.run_id: str | None = None
        self.control_key: str | None = None  # the secret that lets a reloaded page take the run back (ui.run_address)
        self._history: list[dict[str, Any]] = []
        self._events: list[tuple[int, dict[str, Any]]] = []
        self._atoms: np.ndarray | None = None
        self._atoms_version = 0
        self._reference: float | None = None
        self._metrics: dict[str, float] = {}
        self._error: str | None = None
        self._phase: str | None = LOADING  # until the fit begins: the data travels to the worker

    # -- reading ---------------------------------------------------------------------------------
    def snapshot(self, touch: bool = True) -> Snapshot:
        """Copy the job's state under the lock (and refresh the heartbeat unless ``touch=False``)."""
        if touch:
            self.touch()
        iterative = hasattr(self.model, "fit_iter")
        with self._lock:
            history = list(self._history)
            return Snapshot(
                job_id=self.id, state=self._state, model_name=self.model_name,
                dataset_name=self.dataset_name, params=dict(self.params), history=history,
                events=list(self._events), atoms=self._atoms, atoms_version=self._atoms_version,
                max_steps=int(getattr(self.model, "max_steps", 1) or 1) if iterative else 1,
                steps_per_second=self._rate(history), reference_mse=self._reference,
                metrics=dict(self._metrics), error=self._error, queue_position=self._queue_position,
                image_shape=self.image_shape, phase=self._phase if self._state == RUNNING else None,
            )

    @staticmethod
    def _rate(history: list[dict[str, Any]], window: float = 1.5) -> float:
        """Steps per second over about the last ``window`` seconds of the run."""
        if len(history) < 2:
            return 0.0
        last = first = history[-1]
        for row in reversed(history[:-1]):
            first = row
            if last["seconds"] - row["seconds"] >= window:
                break
        dt = last["seconds"] - first["seconds"]
        return float((last["step"] - first["step"]) / dt) if dt > 0 else 0.0

    # -- steering --------------------------------------------------------------------------------
    def update(self, **params: Any) -> dict[str, Any]:
        """Change live parameters of the running fit; returns those accepted (others are ignored)."""
        if not self.active:
            return {}
        accepted = {k: v for k, v in params.items() if k in self.live_params and self.params.get(k) != v}
        if accepted:
            self.control.update(**accepted)
            with self._lock:
                self.params.update(accepted)
            if self.worker is not None:
                self.worker.send_control(self.id, "update", accepted)
        return accepted

    # -- running ---------------------------------------------------------------------------------
    def start(self, worker=None) -> bool:
        """Run the job in ``worker`` (a ``core.jobs.worker.Worker``), or in a new daemon thread when
        none is given; False if it was stopped before it could start."""
        return self.start_on(worker)

    def task(self) -> tuple:
        """What a worker process runs for this job: ``core.jobs.fit``'s ``fit`` task."""
        return ("core.jobs.fit", "fit", self.model, self.X, self.atoms_every)

    def _run_here(self) -> None:
        _await_warm_up()
        import torch

        torch.set_num_threads(torch_threads())
        self.begin()
        self.finish(*run_fit(self.model, self.X, self.control, self, self.atoms_every))

    # the sink that run_fit (here or in a worker process) reports to
    def begin(self) -> None:
        self.began_at = time.monotonic()

    def row(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._history.append(row)
            if row.get("event"):
                self._events.append((int(row["step"]), dict(row["event"])))

    def atoms(self, atoms: np.ndarray) -> None:
        with self._lock:
            self._atoms = atoms
            self._atoms_version += 1

    def reference(self, mse: float | None) -> None:
        with self._lock:
            self._reference = mse

    def phase(self, words: str | None) -> None:
        with self._lock:
            self._phase = words

    def finish(self, state: str, error: str | None, metrics: dict[str, float], model=None) -> None:
        """End the job (``model``: the fitted estimator when it was trained elsewhere)."""
        with self._lock:
            if not self.active:
                return
            if model is not None:
                self.model = model
            if model is not None or self.worker is None:  # the trained estimator is at hand
                # a knob moved during the last step (or after a divergence undid it) never trained: show the
                # values the model ended with, not the slider's last request
                trained = self.model.get_params()
                self.params.update({k: trained[k] for k in self.live_params if k in trained})
            self._state, self._error, self._metrics = state, error, dict(metrics)
            self._queue_position = None
        self._end()

    def fail(self, error: str) -> None:
        self.finish(STOPPED if self.control.stop_requested else FAILED, error, {})


_warm_up_thread: threading.Thread | None = None


def warm_up() -> threading.Thread:
    """Build a throw-away Adam in the background: torch imports its optimiser machinery on first use
    (seconds), and the first run should start at once. Runs in threads wait for it to finish
    (``_await_warm_up``), so no two threads import torch's modules at the same time."""
    global _warm_up_thread

    def _work() -> None:
        import torch

        torch.optim.Adam([torch.zeros(1, requires_grad=True)])

    _warm_up_thread = threading.Thread(target=_work, name="train-warm-up", daemon=True)
    _warm_up_thread.start()
    return _warm_up_thread


def _await_warm_up() -> None:
    thread = _warm_up_thread
    if thread is not None and thread is not threading.current_thread():
        thread.join()
