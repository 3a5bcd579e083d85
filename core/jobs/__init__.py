"""Background training jobs for a live view (no Streamlit here).

- ``core.jobs.job``: ``TrainingJob`` (one run, read through ``Snapshot``s) and its states.
- ``core.jobs.fit``: the body of a run, the same in a thread and in a worker process.
- ``core.jobs.worker``: worker processes, so that training never competes with the web server's GIL.
- ``core.jobs.manager``: ``JobManager`` (one job per owner, a capped pool, a reaper) and ``get_manager``.
- ``core.jobs.call``: ``call_in_worker``, one function call as a job of the manager (its slots, its workers).
"""

from core.jobs.call import call_in_worker
from core.jobs.fit import ACTIVE_STATES, DIVERGED, DONE, FAILED, RUNNING, STOPPED, WAITING
from core.jobs.job import Snapshot, TrainingJob, torch_threads, warm_up
from core.jobs.manager import JobManager, get_manager
from core.jobs.worker import Worker

__all__ = ["ACTIVE_STATES", "DIVERGED", "DONE", "FAILED", "RUNNING", "STOPPED", "WAITING", "Snapshot",
           "TrainingJob", "torch_threads", "warm_up", "JobManager", "get_manager", "Worker", "call_in_worker"]
