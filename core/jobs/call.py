"""One function call in a worker process: analysis that fits models on the user's click (Inspect's
recognition, Compare's subspace trace) runs away from the web server's interpreter, as training does.

``call_in_worker(function, *args, **kwargs)`` blocks its caller (one browser session's script thread)
until the result comes back, while the server's other sessions go on. The function travels by
reference (its module and name) and must be importable: a ``core`` function, not a lambda. With
``on_progress``, the function gets a ``report(*values)`` argument whose calls in the worker reach
``on_progress(*values)`` here (in another thread) as they happen.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Callable

from core.jobs.settings import job_settings
from core.jobs.worker import Worker, register_task

_ids = itertools.count(1)
_REPORT = "__report_to_the_caller__"  # stands for ``report`` on the way to the worker (a callable cannot travel)


class _Call:
    """What ``Worker.run`` sends (``task()``) and what the worker's answer sets (``finish`` / ``fail``)."""

    def __init__(self, function: Callable, args: tuple, kwargs: dict, on_progress: Callable | None = None):
        self.id = next(_ids)
        self.function, self.args, self.kwargs = function, args, kwargs
        self.on_progress = on_progress
        self.done = threading.Event()
        self.outcome: tuple[bool, Any] = (False, "The call did not run.")

    def progress(self, *values: Any) -> None:  # a ``report(...)`` of the function, relayed by the worker
        if self.on_progress is not None:
            self.on_progress(*values)

    def task(self) -> tuple:
        kwargs = self.kwargs if self.on_progress is None else {**self.kwargs, "report": _REPORT}
        return (__name__, "call", self.function, self.args, kwargs)

    def finish(self, ok: bool, value: Any) -> None:
        self.outcome = (ok, value)
        self.done.set()

    def fail(self, message: str) -> None:  # the worker died, or the call could not be sent
        self.finish(False, message)


def call_in_worker(function: Callable, *args: Any, processes: bool | None = None,
                   on_progress: Callable | None = None, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` in a fresh worker process (or here, with ``processes=False`` or
    ``SAE_EXPLORER_JOB_PROCESSES=0``); its result, or its error raised here as a ValueError with the
    same message (a core error names the problem and the fix). With ``on_progress`` the function is also
    given ``report=``, a callable whose calls reach ``on_progress``."""
    if processes is None:
        processes = job_settings().processes
    if not processes:
        return function(*args, **kwargs) if on_progress is None else function(*args, report=on_progress, **kwargs)
    from core.jobs.job import torch_threads

    call = _Call(function, args, kwargs, on_progress)
    worker = Worker(torch_threads())
    try:
        worker.run(call)
        call.done.wait()
    finally:
        worker.close()
    ok, value = call.outcome
    if not ok:
        raise ValueError(value)
    return value


def run_call(events, job_id: int, control, function: Callable, args: tuple, kwargs: dict) -> None:
    """Inside the worker (``core.jobs.worker``'s ``call`` task): run it, send the result or the error."""
    if kwargs.get("report") == _REPORT:
        kwargs = {**kwargs, "report": lambda *values: events.send(("progress", job_id, *values))}
    try:
        result = (True, function(*args, **kwargs))
    except ValueError as error:  # core's message is for the user as it is
        result = (False, str(error))
    except Exception as error:  # noqa: BLE001 - any other failure is reported, the worker goes on
        result = (False, f"{type(error).__name__}: {error}")
    try:
        events.send(("end", job_id, *result))
    except Exception as error:  # noqa: BLE001 - a result that cannot travel back
        events.send(("end", job_id, False, f"The result could not be returned: {error}"))


register_task("call", run_call)
