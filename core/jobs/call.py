"""One function call as a job of the server's ``JobManager``: analysis that fits models on the user's click
(Inspect's recognition, Compare's subspace trace) shares the one limit of background work with fits and
sweeps, and runs in the manager's worker processes, away from the web server's interpreter, as they do.

``call_in_worker(function, *args, **kwargs)`` blocks its caller (one browser session's script thread)
while the call waits for a free slot and runs, while the server's other sessions go on. The function
travels by reference (its module and name) and must be importable: a ``core`` function, not a lambda.
With ``on_progress``, the function gets a ``report(*values)`` argument whose calls in the worker reach
``on_progress(*values)`` here (in another thread) as they happen; a call waiting for its slot tells
``on_progress(0.0, text)`` its place in line (core's reports are ``report(fraction, text)``).
"""

from __future__ import annotations

from typing import Any, Callable

from core.jobs.base import Job
from core.jobs.manager import get_manager
from core.jobs.worker import register_task
from core.states import DONE, FAILED, STOPPED, WAITING

_REPORT = "__report_to_the_caller__"  # stands for ``report`` on the way to the worker (a callable cannot travel)
HEARTBEAT = 0.5  # seconds between two looks of the blocked caller (at most): its heartbeat, its place in line


class CallJob(Job):
    """``function(*args, **kwargs)`` as a job: it waits for a slot like a fit or a sweep, runs in a worker
    process (or, with ``in_process`` or a manager without processes, in a thread here) and ends ``done``
    with ``value`` or ``failed`` with ``error``. ``result(manager)`` submits it and blocks for the value.
    A running call cannot be interrupted: Stop lets it finish, and the manager ends a worker that is still
    busy ``kill_after`` seconds after Stop."""

    kind = "call"

    def __init__(self, function: Callable, args: tuple = (), kwargs: dict | None = None,
                 on_progress: Callable | None = None, in_process: bool = False):
        super().__init__()
        self.function, self.args, self.kwargs = function, tuple(args), dict(kwargs or {})
        self.on_progress = on_progress
        self.in_process = bool(in_process)
        self.value: Any = None
        self.error: str | None = None
        self._told_position: int | None = None

    def _stopped_while_waiting(self) -> None:
        self.error = "The call was stopped before it started (the server is shutting down, or it was cancelled)."

    # -- what JobManager runs ------------------------------------------------------------------------------------
    def task(self) -> tuple:
        kwargs = self.kwargs if self.on_progress is None else {**self.kwargs, "report": _REPORT}
        return (__name__, "call", self.function, self.args, kwargs)

    def _run_here(self) -> None:
        kwargs = self.kwargs if self.on_progress is None else {**self.kwargs, "report": self.progress}
        self.finish(*_outcome(self.function, self.args, kwargs))

    def progress(self, *values: Any) -> None:  # a ``report(...)`` of the function, relayed by the worker
        if self.on_progress is not None:
            self.on_progress(*values)

    def finish(self, ok: bool, value: Any) -> None:
        with self._lock:
            if not self.active:
                return
            if ok:
                self._state, self.value = DONE, value
            else:
                self._state, self.error = STOPPED if self.control.stop_requested else FAILED, str(value)
            self._queue_position = None
        self._end()

    def fail(self, message: str) -> None:  # the worker died, or the call could not be sent
        self.finish(False, message)

    # -- the caller's side ---------------------------------------------------------------------------------------
    def result(self, manager) -> Any:
        """Submit to ``manager`` and block until the call has run: its value, or its error as a ValueError
        with the same message (a core error names the problem and the fix). The blocked caller keeps the
        job's heartbeat, so the manager's idle timeout stops it only once nobody waits for it."""
        owner = f"call-{self.id}"
        manager.submit_job(owner, self)
        try:
            self._tell_place(manager)
            while not self.wait(min(HEARTBEAT, self.idle_timeout / 3)):
                self.touch()
                self._tell_place(manager)
        finally:
            manager.forget(owner)  # also stops it when the caller gave up (an exception while it waited)
        if self.state != DONE:
            raise ValueError(self.error or "The call did not run.")
        return self.value

    def _tell_place(self, manager) -> None:
        position = self.queue_position
        if self.on_progress is None or self.state != WAITING or position is None or position == self._told_position:
            return
        self._told_position = position
        counts = manager.counts()
        going = "1 run is" if counts["running"] == 1 else f"{counts['running']} runs are"
        self.on_progress(0.0, f"Waiting for a free training slot: {going} going on this server (at most "
                              f"{counts['max_running']}); this is number {position} in line")


def call_in_worker(function: Callable, *args: Any, processes: bool | None = None,
                   on_progress: Callable | None = None, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` as a job of the server's manager (``get_manager()``): after any wait for
    a free slot, in one of its worker processes (or in a thread here, with ``processes=False`` or
    ``SAE_EXPLORER_JOB_PROCESSES=0``); its result, or its error raised here as a ValueError with the same
    message. With ``on_progress`` the function is also given ``report=``, a callable whose calls reach
    ``on_progress``."""
    call = CallJob(function, args, kwargs, on_progress, in_process=processes is False)
    return call.result(get_manager())


def _outcome(function: Callable, args: tuple, kwargs: dict) -> tuple[bool, Any]:
    """``(True, result)``, or ``(False, message)``: a ValueError's message as it is (core's message is for
    the user), any other error with its type's name."""
    try:
        return True, function(*args, **kwargs)
    except ValueError as error:
        return False, str(error)
    except Exception as error:  # noqa: BLE001 - any other failure is reported, the worker goes on
        return False, f"{type(error).__name__}: {error}"


def run_call(events, job_id: int, control, function: Callable, args: tuple, kwargs: dict) -> None:
    """Inside the worker (``core.jobs.worker``'s ``call`` task): run it, send the result or the error."""
    if kwargs.get("report") == _REPORT:
        kwargs = {**kwargs, "report": lambda *values: events.send(("progress", job_id, *values))}
    result = _outcome(function, args, kwargs)
    try:
        events.send(("end", job_id, *result))
    except Exception as error:  # noqa: BLE001 - a result that cannot travel back
        events.send(("end", job_id, False, f"The result could not be returned: {error}"))


register_task("call", run_call)
