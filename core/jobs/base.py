"""What ``core.jobs.manager.JobManager`` schedules: a ``Job`` waits for a slot, runs in a worker process
(``core.jobs.worker``) or a thread, can be stopped, and ends once. ``TrainingJob`` (a fit) and
``core.jobs.sweep.SweepJob`` are jobs, and so is a one-off call (``core.jobs.call.CallJob``); each adds what
it runs and what a reader sees."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Callable

from core.states import ACTIVE_STATES, RUNNING, STOPPED, WAITING
from core.training import TrainControl

_ids = itertools.count(1)


class Job:
    """One piece of background work: ``kind`` (a limit per kind), ``owner`` and ``on_finish`` (set by the
    manager), a heartbeat (``touch``; ``last_seen``) and ``idle_timeout`` (the manager's unless the job has
    its own) by which the manager's reaper stops a job nobody reads, and ``stop_requested_at``, by which it
    ends a worker that ignores Stop. A subclass gives ``task()`` (what a worker runs),
    ``_run_here()`` (the same in a thread) and calls ``_end()`` once it has set how it ended."""

    kind = "job"
    in_process = False  # True: run in a thread of this process even where the manager has worker processes

    def __init__(self, owner: str = "", on_finish: Callable[["Job"], None] | None = None):
        self.id = next(_ids)
        self.owner, self.on_finish = owner, on_finish
        self.control = TrainControl()
        self.worker = None  # the core.jobs.worker.Worker running it, if any
        self.stop_requested_at: float | None = None
        self.last_seen = time.monotonic()
        self.idle_timeout: float | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._state = WAITING
        self._queue_position: int | None = None
        self._started = time.monotonic()  # reset when it leaves the queue

    @property
    def state(self) -> str:
        return self._state

    @property
    def queue_position(self) -> int | None:
        """Its place in the manager's line while it waits for a slot (1: next), else None."""
        return self._queue_position

    @property
    def active(self) -> bool:
        return self._state in ACTIVE_STATES

    def touch(self) -> None:
        """Refresh the heartbeat: somebody is still looking at this job (from any page)."""
        self.last_seen = time.monotonic()

    def _idle(self, now: float | None = None) -> bool:
        """Whether nobody has read the job for its idle timeout (a closed tab); the reaper asks."""
        now = time.monotonic() if now is None else now
        return self.idle_timeout is not None and now - self.last_seen > self.idle_timeout

    def stop(self) -> None:
        """Ask the job to end after its current step (a waiting job ends at once)."""
        self.control.request_stop()
        if self.stop_requested_at is None:
            self.stop_requested_at = time.monotonic()
        with self._lock:
            waiting = self._state == WAITING
            if waiting:
                self._state, self._queue_position = STOPPED, None
                self._stopped_while_waiting()
        if waiting:
            self._done.set()
        if self.worker is not None and self.active:
            self.worker.send_control(self.id, "stop")

    def _stopped_while_waiting(self) -> None:
        """Say so in the job's own state (called under its lock)."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended; True when it has."""
        return self._done.wait(timeout)

    def start_on(self, worker) -> bool:
        """Run in ``worker`` (a ``core.jobs.worker.Worker``), or in a new daemon thread when None; False if
        it was stopped before it could start. The manager calls this when a slot is free."""
        with self._lock:
            if self._state != WAITING or self.control.stop_requested:
                return False
            self._state, self._queue_position, self._started = RUNNING, None, time.monotonic()
        if worker is not None:
            self.worker = worker
            worker.run(self)
        else:
            threading.Thread(target=self._run_here, name=f"{self.kind}-job-{self.id}", daemon=True).start()
        return True

    def task(self) -> tuple:
        raise NotImplementedError

    def _run_here(self) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        """The job has ended (its state says how): wake its waiters, tell its manager."""
        self._done.set()
        if self.on_finish is not None:
            self.on_finish(self)
