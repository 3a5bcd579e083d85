"""The words for how a run stands, defined once, and the one mapping from a job's end to the run store.

A background job (``core.jobs``: a fit or a sweep) is WAITING for a slot, RUNNING, then ends DONE,
STOPPED, DIVERGED or FAILED. A point of a sweep (``core.sweep``) is PENDING, then FINISHED, STOPPED,
DIVERGED or SKIPPED. The run store (``core.store``) keeps a run RUNNING until it is saved, then FINISHED
or STOPPED (weights saved), or FAILED / INTERRUPTED (none). ``store_status`` turns how a job or a point
ended into the store's status; nothing else maps one vocabulary onto another.
"""

from __future__ import annotations

WAITING, RUNNING, DONE, STOPPED, DIVERGED, FAILED = "waiting", "running", "done", "stopped", "diverged", "failed"
PENDING, FINISHED, SKIPPED, INTERRUPTED = "pending", "finished", "skipped", "interrupted"

#: a job that has not ended
ACTIVE_STATES = (WAITING, RUNNING)
#: the run store's statuses, and those of runs whose weights are saved
STATUSES = (RUNNING, FINISHED, STOPPED, FAILED, INTERRUPTED)
SAVED_STATUSES = (FINISHED, STOPPED)

_STORE_STATUS = {DONE: FINISHED, FINISHED: FINISHED, STOPPED: STOPPED, DIVERGED: STOPPED, FAILED: FAILED}


def store_status(state: str) -> str:
    """The run store's status of a run whose job (or sweep point) ended ``state``: a diverged run keeps its
    last good weights, so it is saved ``stopped``."""
    if state not in _STORE_STATUS:
        raise ValueError(f"A run in state {state!r} has not ended; save it once it is done, stopped, diverged "
                         "or failed.")
    return _STORE_STATUS[state]
