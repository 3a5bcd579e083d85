"""Background training jobs for a live view: one thread per job, a locked snapshot, a capped manager.

A ``TrainingJob`` fits one model on one data matrix in a daemon thread. The thread appends every
metrics row to a history and copies the atoms about every ``atoms_every`` seconds; a reader (the UI)
only ever calls ``snapshot()``, which copies that state under a lock and refreshes the job's heartbeat.

A ``JobManager`` owns the jobs of every user: one job per owner (a browser session), at most
``max_running`` running at once (the rest wait in line, state 'waiting'), and a reaper thread that
stops jobs nobody has read for ``idle_timeout`` seconds (a closed browser tab). No Streamlit here.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from core.metrics import evaluate, pca_mse
from core.training import TrainControl, TrainingDiverged

WAITING, RUNNING, DONE, STOPPED, DIVERGED, FAILED = "waiting", "running", "done", "stopped", "diverged", "failed"
ACTIVE_STATES = (WAITING, RUNNING)
_ids = itertools.count(1)
GIL_SWITCH_INTERVAL = 0.0002  # seconds (Python's default is 0.005)


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


class TrainingJob:
    """Fits ``model`` on ``X`` in a background thread; read it with ``snapshot()``, steer it with
    ``update(**live_params)`` and ``stop()``. Iterative models (with ``fit_iter``) log a row every
    ``log_every`` steps; closed-form ones (PCA) log one row when done.
    """

    def __init__(self, model, X: np.ndarray, *, model_name: str = "", dataset_name: str = "",
                 params: dict[str, Any] | None = None, owner: str = "", image_shape=None,
                 atoms_every: float = 0.3, on_finish: Callable[["TrainingJob"], None] | None = None):
        self.id = next(_ids)
        self.model, self.X, self.owner = model, X, owner
        self.model_name, self.dataset_name = model_name, dataset_name
        self.params = dict(params if params is not None else model.get_params())
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.atoms_every = float(atoms_every)
        self.control = TrainControl()
        self.live_params: tuple[str, ...] = tuple(getattr(model, "_live_params", ()))
        self._on_finish = on_finish
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state = WAITING
        self._history: list[dict[str, Any]] = []
        self._events: list[tuple[int, dict[str, Any]]] = []
        self._atoms: np.ndarray | None = None
        self._atoms_version = 0
        self._reference: float | None = None
        self._metrics: dict[str, float] = {}
        self._error: str | None = None
        self._queue_position: int | None = None
        self.last_seen = time.monotonic()

    # -- reading ---------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def active(self) -> bool:
        return self._state in ACTIVE_STATES

    def touch(self) -> None:
        """Refresh the heartbeat: somebody is still looking at this job."""
        self.last_seen = time.monotonic()

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
                image_shape=self.image_shape,
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
        return accepted

    def stop(self) -> None:
        """Ask the run to end after its current step (a waiting job ends at once)."""
        self.control.request_stop()
        with self._lock:
            if self._state == WAITING:
                self._state, self._queue_position = STOPPED, None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended; True when it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._thread is None and self.active:  # not started yet, or started but not yet published
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        if self._thread is not None:
            self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.active

    # -- running ---------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the thread (the manager calls this when a slot is free); False if it was stopped."""
        with self._lock:
            if self._state != WAITING or self.control.stop_requested:
                return False
            self._state, self._queue_position = RUNNING, None
        thread = threading.Thread(target=self._run, name=f"train-job-{self.id}", daemon=True)
        thread.start()
        self._thread = thread  # published once started: wait() in another thread may join it at once
        return True

    def _set_atoms(self, atoms) -> None:
        """Publish a copy of the atoms; non-finite ones are refused, so the last good atoms stay shown."""
        if atoms is None:
            return
        atoms = np.array(atoms, dtype=np.float32, copy=True)
        if not np.isfinite(atoms).all():
            return
        with self._lock:
            self._atoms = atoms
            self._atoms_version += 1

    def _run(self) -> None:
        state, error = DONE, None
        _await_warm_up()
        try:
            import torch

            torch.set_num_threads(torch_threads())
            if hasattr(self.model, "fit_iter"):
                self._run_iterative()
            else:
                self._run_closed_form()
            if self.control.stop_requested:
                state = STOPPED
        except TrainingDiverged as exc:  # the model kept its last good weights
            state, error = DIVERGED, str(exc)
        except ValueError as exc:  # core's message names the problem and the fix
            state, error = FAILED, str(exc)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            state, error = FAILED, f"{type(exc).__name__}: {exc}"
        self._set_atoms(getattr(self.model, "components_", None))
        if state != FAILED:
            self._final_metrics()
        with self._lock:
            self._state, self._error = state, error
        if self._on_finish is not None:
            self._on_finish(self)

    def _run_iterative(self) -> None:
        last_atoms = 0.0
        for row in self.model.fit_iter(self.X, self.control):
            event = row.get("event")
            with self._lock:
                self._history.append(row)
                if event:
                    self._events.append((int(row["step"]), dict(event)))
            if len(self._history) == 1:
                self._reference = self._reference_mse()
            now = time.monotonic()
            if now - last_atoms >= self.atoms_every:
                self._set_atoms(self.model.current_components())
                last_atoms = now

    def _run_closed_form(self) -> None:
        t0 = time.perf_counter()
        self.model.fit(self.X)
        mse = float(np.mean((self.X - self.model.reconstruct(self.X)) ** 2))
        row = {"step": 1, "loss": mse, "mse": mse, "seconds": time.perf_counter() - t0}
        with self._lock:
            self._history.append(row)
        self._reference = self._reference_mse()

    def _reference_mse(self) -> float | None:
        """The rank-matched PCA error (``core.metrics.pca_mse``), or None when it does not apply."""
        try:
            return float(pca_mse(self.X, int(self.params["n_components"])))
        except Exception:  # noqa: BLE001 - no n_components, or odd data: a reference line is a bonus
            return None

    def _final_metrics(self) -> None:
        try:
            metrics = {k: float(v) for k, v in evaluate(self.model, self.X).items()}
        except Exception:  # noqa: BLE001 - metrics are a bonus; the history has the essentials
            return
        with self._lock:
            self._metrics = metrics


class JobManager:
    """All training jobs of a process: one per owner, at most ``max_running`` at once, idle ones reaped.

    ``submit`` replaces an owner's previous job (stopping it). Jobs beyond the cap wait in line (state
    'waiting', with their ``queue_position``) and start as slots free up. A daemon reaper stops jobs
    whose heartbeat (``TrainingJob.touch``, done by every ``snapshot``) is older than ``idle_timeout``.
    """

    def __init__(self, max_running: int = 2, idle_timeout: float = 45.0, reap_every: float = 2.0):
        if int(max_running) < 1:
            raise ValueError(f"max_running must be at least 1, got {max_running}.")
        self.max_running = int(max_running)
        self.idle_timeout = float(idle_timeout)
        self.reap_every = float(reap_every)
        self._lock = threading.RLock()
        self._jobs: dict[str, TrainingJob] = {}
        self._queue: deque[TrainingJob] = deque()
        self._running: set[TrainingJob] = set()
        self._reaper: threading.Thread | None = None
        self._closed = threading.Event()

    def submit(self, owner: str, model, X: np.ndarray, **job_kwargs: Any) -> TrainingJob:
        """Make ``owner``'s new job (stopping its previous one) and start it, or queue it."""
        job = TrainingJob(model, X, owner=owner, on_finish=self._finished, **job_kwargs)
        with self._lock:
            old = self._jobs.get(owner)
            if old is not None:
                self._drop(old)
            self._jobs[owner] = job
            self._queue.append(job)
            self._fill_slots()
        self._ensure_reaper()
        return job

    def job_for(self, owner: str) -> TrainingJob | None:
        return self._jobs.get(owner)

    def stop(self, owner: str) -> None:
        with self._lock:
            job = self._jobs.get(owner)
            if job is not None:
                self._drop(job, forget=False)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"running": len(self._running), "waiting": len(self._queue), "max_running": self.max_running}

    def _drop(self, job: TrainingJob, forget: bool = True) -> None:
        job.stop()
        if job in self._queue:
            self._queue.remove(job)
        if forget and self._jobs.get(job.owner) is job:
            del self._jobs[job.owner]
        self._fill_slots()

    def _fill_slots(self) -> None:
        with self._lock:
            while self._queue and len(self._running) < self.max_running:
                job = self._queue.popleft()
                self._running.add(job)
                if not job.start():
                    self._running.discard(job)
            for position, job in enumerate(self._queue, start=1):
                job._queue_position = position

    def _finished(self, job: TrainingJob) -> None:
        with self._lock:
            self._running.discard(job)
            self._fill_slots()

    def reap(self, now: float | None = None) -> list[TrainingJob]:
        """Stop and forget jobs not read for ``idle_timeout`` seconds; returns the active ones it stopped."""
        now = time.monotonic() if now is None else now
        reaped = []
        with self._lock:
            for job in list(self._jobs.values()):
                if now - job.last_seen > self.idle_timeout:
                    if job.active:
                        reaped.append(job)
                    self._drop(job)
        return reaped

    def _ensure_reaper(self) -> None:
        with self._lock:
            if self._reaper is not None and self._reaper.is_alive():
                return
            self._reaper = threading.Thread(target=self._reap_loop, name="train-job-reaper", daemon=True)
            self._reaper.start()

    def _reap_loop(self) -> None:
        while not self._closed.wait(self.reap_every):
            try:
                self.reap()
            except Exception:  # noqa: BLE001 - the reaper must never die
                pass

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every job and the reaper (tests, process exit)."""
        self._closed.set()
        with self._lock:
            jobs = list(self._jobs.values()) + list(self._queue)
            self._queue.clear()
            for job in jobs:
                job.stop()
            self._jobs.clear()
        for job in jobs:
            job.wait(timeout)


_warm_up_thread: threading.Thread | None = None


def warm_up() -> threading.Thread:
    """Build a throw-away Adam in the background: torch imports its optimiser machinery on first use
    (seconds), and the first run of the process should start at once. Runs wait for it to finish
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


_manager: JobManager | None = None
_manager_lock = threading.Lock()


def get_manager() -> JobManager:
    """The process-wide manager; its cap and timeout come from SAE_EXPLORER_MAX_JOBS (default 2)
    and SAE_EXPLORER_JOB_TIMEOUT (seconds without a reader before a job is stopped, default 45)."""
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = JobManager(
                max_running=int(os.environ.get("SAE_EXPLORER_MAX_JOBS", "2")),
                idle_timeout=float(os.environ.get("SAE_EXPLORER_JOB_TIMEOUT", "45")),
            )
            warm_up()
            # Training threads give up the GIL around every torch call and must win it back from the
            # server's threads; a shorter switch interval halves the time they wait for it (measured
            # with bench/ui_latency.py: 91 -> 200 steps/s with the Train page watched, 2 cores).
            sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        return _manager
