"""The process-wide job manager: one job per owner, a capped pool of worker processes, a reaper.

``JobManager`` owns the jobs of every user (an owner is a browser session, or one of its pages): fits
(``TrainingJob``), sweeps (``core.jobs.sweep.SweepJob``) and one-off calls (``core.jobs.call.CallJob``)
alike. At most ``max_running`` run at once (of them at most ``max_per_kind[kind]`` of one kind, e.g.
sweeps), one per worker process (``core.jobs.worker``); the rest wait in line (state 'waiting', with their
``queue_position``) and start as workers free up. A daemon reaper stops jobs nobody has read for
``idle_timeout`` seconds (a closed browser tab), ends a worker whose job ignores Stop for
``kill_after`` seconds, replaces workers that died, and retires a worker that has trained on the GPU
once it has been idle for ``idle_timeout`` seconds (its CUDA context holds GPU memory until its process
ends), starting a fresh one in its place. No Streamlit here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import numpy as np

from core.jobs.job import TrainingJob, torch_threads
from core.jobs.settings import job_settings
from core.jobs.worker import Worker


class JobManager:
    """All training jobs of a process; see the module docstring.

    ``processes=False`` trains in threads of this process instead of worker processes (no start-up
    cost, but the runs share the GIL with everything else here).

    A job is a ``core.jobs.base.Job``: anything with ``id``, ``owner``, ``kind``, ``in_process``, ``active``,
    ``last_seen``, ``stop_requested_at``, ``on_finish``, ``start_on(worker_or_None) -> bool``, ``stop()``,
    ``wait()`` and, for a worker, ``task()``, ``finish`` and ``fail``.
    """

    def __init__(self, max_running: int = 2, idle_timeout: float = 45.0, reap_every: float = 2.0,
                 processes: bool = True, kill_after: float = 10.0, warm: bool = False,
                 max_per_kind: dict[str, int] | None = None):
        if int(max_running) < 1:
            raise ValueError(f"max_running must be at least 1, got {max_running}.")
        self.max_running = int(max_running)
        self.idle_timeout = float(idle_timeout)
        self.reap_every = float(reap_every)
        self.processes = bool(processes)
        self.kill_after = float(kill_after)
        self.warm = bool(warm)
        self.max_per_kind = dict(max_per_kind or {})
        self._lock = threading.RLock()
        self._jobs: dict[str, TrainingJob] = {}
        self._queue: deque[TrainingJob] = deque()
        self._running: set[TrainingJob] = set()
        self._workers: list[Worker] = []
        self._reaper: threading.Thread | None = None
        self._closed = threading.Event()
        if warm and self.processes:
            self._ensure_workers(self.max_running)

    # -- the owners' side ----------------------------------------------------------------------
    def submit(self, owner: str, model, X: np.ndarray, **job_kwargs: Any) -> TrainingJob:
        """Make ``owner``'s new training job (stopping its previous one) and start it, or queue it."""
        return self.submit_job(owner, TrainingJob(model, X, owner=owner, **job_kwargs))

    def submit_job(self, owner: str, job):
        """Start ``job`` (a fit or a sweep, see the class docstring) for ``owner``, stopping the owner's
        previous job, or queue it; returns it."""
        job.owner, job.on_finish = owner, self._finished
        if job.idle_timeout is None:
            job.idle_timeout = self.idle_timeout
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

    def job_at(self, run_id: str) -> TrainingJob | None:
        """The job whose run store id is ``run_id``, whoever owns it (a run's link, opened in any session);
        None when no job kept here has it (it ended and was forgotten, or it never ran in this process)."""
        with self._lock:
            return next((job for job in self._jobs.values() if getattr(job, "run_id", None) == run_id), None)

    def adopt(self, job, owner: str) -> None:
        """Make ``owner`` the owner of ``job`` (a reloaded page takes its run back): the owner's Stop and next
        run then act on it. A different job ``owner`` had is stopped, as a new run would stop it."""
        with self._lock:
            if self._jobs.get(job.owner) is job:
                del self._jobs[job.owner]
            previous = self._jobs.get(owner)
            if previous is not None and previous is not job:
                self._drop(previous)
            job.owner = owner
            self._jobs[owner] = job

    def stop(self, owner: str) -> None:
        with self._lock:
            job = self._jobs.get(owner)
            if job is not None:
                self._drop(job, forget=False)
        self._fill_slots()

    def forget(self, owner: str) -> None:
        """Stop ``owner``'s job if it has not ended, and drop it (a call whose caller has its result)."""
        with self._lock:
            job = self._jobs.get(owner)
            if job is not None:
                self._drop(job)
        self._fill_slots()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"running": len(self._running), "waiting": len(self._queue), "max_running": self.max_running}

    def running_of(self, kind: str) -> int:
        """How many jobs of ``kind`` ('fit', 'sweep') train now."""
        with self._lock:
            return sum(job.kind == kind for job in self._running)

    def workers(self) -> list[Worker]:
        with self._lock:
            return list(self._workers)

    # -- slots -----------------------------------------------------------------------------------
    def _drop(self, job: TrainingJob, forget: bool = True) -> None:
        job.stop()
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
            if forget and self._jobs.get(job.owner) is job:
                del self._jobs[job.owner]

    def _ensure_workers(self, count: int) -> None:
        with self._lock:
            self._workers = [w for w in self._workers if w.alive or w.job is not None]
            while len(self._workers) < count and not self._closed.is_set():
                self._workers.append(Worker(torch_threads(), on_idle=self._worker_idle,
                                            on_exit=self._worker_exited))

    def _fill_slots(self) -> None:
        """Start queued jobs while there is room; the sends happen outside the lock (data can be big)."""
        starts: list[tuple[TrainingJob, Worker | None]] = []
        with self._lock:
            self._queue = deque(job for job in self._queue if job.active)
            while len(self._running) < self.max_running and not self._closed.is_set():
                job = next((job for job in self._queue if self._kind_has_room(job)), None)
                if job is None:
                    break
                worker = None
                if self.processes and not job.in_process:
                    self._ensure_workers(min(self.max_running, len(self._running) + 1))
                    worker = next((w for w in self._workers if w.idle and not w.reserved), None)
                    if worker is None:
                        break  # every worker still ends a stopped run; on_idle calls back
                    worker.reserved = True
                self._queue.remove(job)
                self._running.add(job)
                starts.append((job, worker))
            for position, job in enumerate(self._queue, start=1):
                job._queue_position = position
        for job, worker in starts:
            try:
                started = job.start_on(worker)
            finally:
                if worker is not None:
                    worker.reserved = False  # only now: until the job is on it, no one else may take it
            if not started:
                with self._lock:
                    self._running.discard(job)
                self._fill_slots()

    def _kind_has_room(self, job) -> bool:
        limit = self.max_per_kind.get(job.kind)
        return limit is None or self.running_of(job.kind) < limit

    def _finished(self, job: TrainingJob) -> None:
        with self._lock:
            self._running.discard(job)
        if job.worker is None:
            self._fill_slots()  # it ran in a thread here; a worker calls back through _worker_idle once it is free

    def _worker_idle(self, worker: Worker) -> None:
        self._fill_slots()

    def _worker_exited(self, worker: Worker) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
        if not self._closed.is_set():
            self._fill_slots()  # starts a fresh worker if jobs wait

    # -- the reaper --------------------------------------------------------------------------------
    def reap(self, now: float | None = None) -> list[TrainingJob]:
        """Stop and forget jobs not read for ``idle_timeout`` seconds (returns the active ones stopped),
        end the workers of runs that ignored Stop for ``kill_after`` seconds, and retire the workers that
        hold GPU memory and have been idle for ``idle_timeout`` seconds."""
        now = time.monotonic() if now is None else now
        reaped = []
        with self._lock:
            for job in list(self._jobs.values()):
                if job._idle(now):
                    if job.active:
                        reaped.append(job)
                    self._drop(job)
            stuck = [w for w in self._workers if w.job is not None and w.job.stop_requested_at is not None
                     and w.ready_at is not None  # a worker still warming up reads Stop once warm
                     and now - max(w.job.stop_requested_at, w.ready_at) > self.kill_after]
            spent = [w for w in self._workers if w.holds_gpu and w.idle and not w.reserved
                     and now - w.idle_since > self.idle_timeout]
            for worker in spent:  # out of the pool first, so no job is given to it meanwhile
                self._workers.remove(worker)
        for worker in stuck:
            worker.kill()
        for worker in spent:
            worker.close()  # the process ends, and its GPU memory with it
        if spent and self.warm:
            self._ensure_workers(self.max_running)
        self._fill_slots()
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
        """Stop every job, the reaper and the worker processes (tests, process exit)."""
        self._closed.set()
        with self._lock:
            jobs = list(self._jobs.values()) + list(self._queue) + list(self._running)
            self._queue.clear()
            self._jobs.clear()
            workers, self._workers = list(self._workers), []
        for job in jobs:
            job.stop()
        for job in jobs:
            job.wait(timeout)
        for worker in workers:
            worker.close(timeout)


_manager: JobManager | None = None
_manager_lock = threading.Lock()


def get_manager() -> JobManager:
    """The process-wide manager of fits and sweeps, its workers started at once so the first run starts
    without delay; its settings are ``core.jobs.settings.job_settings()``."""
    global _manager
    with _manager_lock:
        if _manager is None:
            settings = job_settings()
            _manager = JobManager(max_running=settings.max_running, idle_timeout=settings.idle_timeout,
                                  processes=settings.processes, warm=True,
                                  max_per_kind={"sweep": settings.max_sweeps})
            if not _manager.processes:
                from core.jobs.job import warm_up

                warm_up()
        return _manager
