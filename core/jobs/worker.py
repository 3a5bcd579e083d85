"""Worker processes: each trains one job at a time, away from the web server's Python interpreter.

Training in a thread of the Streamlit server made both slow: every torch call gives up the GIL and
has to win it back from the server's threads (measured: a watched run at ~24% of its headless speed).
A worker is a fresh Python process that imports torch once, then trains the jobs it is sent:

- parent -> worker, on the *control* pipe: ``("run", job_id, module, task, *payload)``,
  ``("stop", job_id)``, ``("update", job_id, params)``. A task is registered by the module that defines it
  (``register_task``: ``core.jobs.fit``'s ``fit``, ``core.jobs.sweep``'s ``sweep``, ``core.jobs.call``'s
  ``call``); the worker imports ``module`` (a dotted path sent with the task) and runs the task of that
  name, so this file names no task of its own. A listener thread in the worker applies stop
  and update to the running task's ``TrainControl``; the pipe closing (the server died, even by
  ``kill -9``) ends the worker.
- worker -> parent, on the *events* pipe: ``("ready",)`` once warm, then per job ``("begin", id)``, ``("row", id, row)``,
  ``("atoms", id, array)``, ``("reference", id, mse)`` and ``("end", id, state, error, metrics, model)``
  for a fit (a sweep sends its own). A reader thread in the parent calls the job's method of that name;
  a fit's job gets the fitted model back. After a job that used CUDA: ``("holds_gpu",)``.

The messages are pickled by ``multiprocessing`` between this program's own processes; no user file is
ever unpickled (user data arrives as arrays already checked by ``core.datasets``).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import queue
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

_names = itertools.count(1)
WORKER_NICENESS = 5  # default: added to the server's niceness (0 to 19: higher yields the CPU to others)
_PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds core/


def worker_niceness() -> int:
    """How far workers step back for the pages: ``$SAE_EXPLORER_WORKER_NICENESS``, 0 to 19 (default 5).
    Higher keeps the pages live under load, lower keeps training fast beside other busy programs; the
    default is the measured balance (bench/RESULTS.md: soak.py and worker_priority.py at 0, 2, 5, 10)."""
    text = os.environ.get("SAE_EXPLORER_WORKER_NICENESS", "").strip()
    if not text:
        return WORKER_NICENESS
    if not text.isdigit() or int(text) > 19:
        raise ValueError(f"SAE_EXPLORER_WORKER_NICENESS is {text!r}: set a whole number from 0 (training "
                         f"shares the CPU equally) to 19 (training only uses what nothing else wants), or "
                         f"unset it for the default {WORKER_NICENESS}.")
    return int(text)


def _child_environment() -> dict[str, str]:
    """This environment, with the project importable wherever the server was started from."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class Worker:
    """The parent's handle on one worker process; ``on_idle(worker)`` is called whenever it is free
    again (a job ended), ``on_exit(worker)`` once if the process dies."""

    def __init__(self, threads: int, on_idle: Callable[["Worker"], None] | None = None,
                 on_exit: Callable[["Worker"], None] | None = None):
        niceness = worker_niceness()  # checked here: a bad setting is the server's error, not a dying worker's
        control_reader, control_writer = os.pipe()
        events_reader, events_writer = os.pipe()
        self.name = f"train-worker-{next(_names)}"
        # a fresh interpreter (not multiprocessing's spawn, which re-runs the caller's main script)
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from core.jobs.worker import worker_main; "
                                   f"worker_main({control_reader}, {events_writer}, {int(threads)}, {niceness})"],
            pass_fds=(control_reader, events_writer), env=_child_environment(), stdin=subprocess.DEVNULL,
            start_new_session=True)  # its own session: its own scheduling group on Linux (see _yield_the_cpu)
        os.close(control_reader)  # the worker's ends: once it dies, our reads and writes fail at once
        os.close(events_writer)
        self._control = Connection(control_writer, readable=False)
        self._events = Connection(events_reader, writable=False)
        self.ready = threading.Event()
        self.ready_at: float | None = None  # when it finished warming up (time.monotonic)
        self.idle_since = time.monotonic()  # when its last job ended (or it became ready)
        self.holds_gpu = False  # it has trained on CUDA: its CUDA context keeps GPU memory until it exits
        self.job = None
        self.reserved = False  # promised to a job by the manager, not yet sent
        self._on_idle, self._on_exit = on_idle, on_exit
        self._outbox: queue.Queue = queue.Queue()  # sent by a thread: a caller never waits on the pipe
        self._reader = threading.Thread(target=self._read_loop, name=f"{self.name}-reader", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name=f"{self.name}-sender", daemon=True)
        self._reader.start()
        self._sender.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and self._reader.is_alive()

    @property
    def idle(self) -> bool:
        return self.job is None and self.alive

    def run(self, job) -> None:
        """Send ``job`` to this worker: a job already marked running, with an ``id``, a ``task()`` (the
        module that registers its task, the task's name and its arguments), ``finish`` and ``fail``."""
        self.job = job
        self._outbox.put(("run", job.id, *job.task()))

    def send_control(self, job_id: int, kind: str, params: dict[str, Any] | None = None) -> None:
        self._outbox.put((kind, job_id) if params is None else (kind, job_id, params))

    def _send_loop(self) -> None:
        while (message := self._outbox.get()) is not None:
            try:
                self._control.send(message)
            except (OSError, EOFError, ValueError):  # the worker is gone: the reader reports it
                break
            except Exception as exc:  # noqa: BLE001 - it could not be pickled: nothing was sent
                job = self.job
                if message[0] == "run" and job is not None and job.id == message[1]:
                    self.job = None
                    job.fail(f"The run could not be sent to its training process: {exc}")
                    if self._on_idle is not None:
                        self._on_idle(self)
        self._control.close()  # the worker sees the pipe close and exits

    def kill(self) -> None:
        """End the process now (a run that ignores Stop, or shutdown); its job fails or stops."""
        if self.process.poll() is None:
            self.process.kill()

    def close(self, timeout: float = 5.0) -> None:
        self._outbox.put(None)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()
        self._reader.join(timeout)

    def _read_loop(self) -> None:
        while True:
            try:
                message = self._events.recv()
            except (EOFError, OSError):
                break
            except Exception:  # noqa: BLE001 - a message that cannot be read: start afresh
                self.kill()
                break
            kind, job = message[0], self.job
            if kind == "ready":
                self.ready_at = self.idle_since = time.monotonic()
                self.ready.set()
            elif kind == "holds_gpu":
                self.holds_gpu = True
            elif job is None or message[1] != job.id:
                continue  # a late message of a job that was given up on
            elif kind == "end":
                self.job = None  # free before the job's on_finish looks for a free worker
                self.idle_since = time.monotonic()
                job.finish(*message[2:])
                if self._on_idle is not None:
                    self._on_idle(self)
            else:
                getattr(job, kind)(*message[2:])  # begin / row / atoms / reference / phase
        try:
            code = self.process.wait(5.0)
        except subprocess.TimeoutExpired:
            code = None
        self._events.close()
        self._outbox.put(None)  # ends the sender thread too
        job, self.job = self.job, None
        if job is not None:
            stopped = getattr(getattr(job, "control", None), "stop_requested", False)
            job.fail("The run was ended before it finished: Stop was not answered in time." if stopped else
                     f"The training process ended unexpectedly (exit code {code}); out of memory? "
                     "Try fewer samples, fewer atoms or a smaller batch, then start it again.")
        if self._on_exit is not None:
            self._on_exit(self)


# -- inside the worker process -----------------------------------------------------------------------------
_TASKS: dict[str, Callable[..., None]] = {}


def register_task(name: str, function: Callable[..., None]) -> Callable[..., None]:
    """Make ``function(events, job_id, control, *payload)`` what a worker runs for task ``name``. The module
    that defines a task registers it when imported; a job's ``task()`` names that module."""
    _TASKS[name] = function
    return function


class EventSink:
    """The sink a task reports to: each call (``row(...)``, ``atoms(...)``, ...) is one message to the
    parent, which calls the job's method of the same name."""

    def __init__(self, connection, job_id: int):
        self.connection, self.job_id = connection, job_id

    def __getattr__(self, kind: str):
        if kind.startswith("_"):
            raise AttributeError(kind)
        return lambda *args: self.connection.send((kind, self.job_id, *args))


def _yield_the_cpu(niceness: int) -> None:
    """Put this process behind the web server and the browser in the CPU's queue: training takes all the
    idle CPU, but the pages are served and drawn first. On 2 cores with 2 runs, this keeps them live.

    Niceness alone does not do it where Linux's autogroup is on (desktop kernels, and this project's
    machines): the CPU is shared between sessions first, and a browser is in another session than the
    server, so a niced worker still took half of the cores from the browser's tabs whenever both wanted
    them. The worker starts its own session (``start_new_session``), so the same niceness, given to its
    autogroup, ranks it below every other session too. With ``niceness`` 0 it keeps its own session,
    which then counts as much as any other."""
    if niceness == 0:
        return
    with contextlib.suppress(OSError, AttributeError):
        os.nice(niceness)
    for _ in range(10):
        try:
            Path("/proc/self/autogroup").write_text(str(niceness))
            return
        except BlockingIOError:  # EAGAIN: the kernel allows one change a tenth of a second
            time.sleep(0.1)
        except OSError:  # no autogroup (another OS, or a kernel without it): niceness is what there is
            return


def worker_main(control_fd: int, events_fd: int, threads: int, niceness: int = WORKER_NICENESS) -> None:
    """The worker process: warm torch up, then train the jobs that arrive, one at a time."""
    from core.training import TrainControl

    _yield_the_cpu(niceness)
    control, events = Connection(control_fd, writable=False), Connection(events_fd, readable=False)
    jobs: queue.Queue = queue.Queue()
    controls: dict[int, TrainControl] = {}

    def listen() -> None:
        while True:
            try:
                message = control.recv()
            except (EOFError, OSError):
                os._exit(0)  # the server is gone: never outlive it
            except Exception:  # noqa: BLE001 - a message that cannot be read: the server starts a new worker
                os._exit(70)
            kind, job_id = message[0], message[1]
            if kind == "run":
                controls[job_id] = TrainControl()
                jobs.put(message)
            elif job_id in controls and kind == "stop":
                controls[job_id].request_stop()
            elif job_id in controls and kind == "update":
                controls[job_id].update(**message[2])

    threading.Thread(target=listen, name="control-listener", daemon=True).start()
    import torch

    torch.set_num_threads(max(1, int(threads)))
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # imports the optimiser machinery now
    try:
        events.send(("ready",))
        while True:
            _, job_id, module, task, *payload = jobs.get()
            importlib.import_module(module)  # registers its tasks
            _TASKS[task](events, job_id, controls[job_id], *payload)
            del payload
            controls.pop(job_id, None)
            if torch.cuda.is_initialized():
                torch.cuda.empty_cache()  # give the GPU memory of the finished run back
                events.send(("holds_gpu",))  # but not the CUDA context: only ending the process frees that
    except (BrokenPipeError, ConnectionResetError):
        os._exit(0)  # the server is gone (Ctrl-C, a kill) and this send saw it first: end as quietly
