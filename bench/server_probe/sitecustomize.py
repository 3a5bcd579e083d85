"""Loaded by the soak's `streamlit run` server only (bench/soak.py puts this folder on its PYTHONPATH): logs,
one line each, every script run (wall and CPU milliseconds, fragment or full), every Python collection
over 20 ms and every save to the run store, to $SOAK_SERVER_EVENTS. It tells the server's share of a
silence from the browser's. Other processes (the training workers) are left alone."""

import gc
import os
import threading
import time

_LOG = os.environ.get("SOAK_SERVER_EVENTS")


def _write(*fields) -> None:
    with open(_LOG, "a") as log:
        log.write(" ".join(map(str, fields)) + "\n")


def _timed(kind_of, name: str, original):
    def timed(*args, **kwargs):
        start, cpu = time.time(), time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            _write(name, round(start * 1000), round((time.time() - start) * 1000, 1),
                   round((time.thread_time() - cpu) * 1000, 1), kind_of(*args))
    return timed


def _install() -> None:
    from streamlit.runtime.scriptrunner import script_runner

    runner, lock = script_runner.ScriptRunner, threading.Lock()
    run_script = _timed(lambda _, rerun: "fragment" if rerun.fragment_id_queue else "full", "run",
                        runner._run_script)

    def first_run(*args, **kwargs):  # the app's folder is importable from here on: time its saves too
        import core.jobs.saving as background

        with lock:  # sessions start their first runs at once
            if runner._run_script is first_run:
                background.save_job = _timed(lambda *_: "-", "save", background.save_job)
                runner._run_script = run_script
        return run_script(*args, **kwargs)

    runner._run_script = first_run
    started = []

    def collected(phase: str, info: dict) -> None:
        if phase == "start":
            started[:] = [time.time()]
        elif started and (took := (time.time() - started[0]) * 1000) > 20:
            _write("gc", round(started[0] * 1000), round(took, 1), 0, f"gen{info['generation']}")

    gc.callbacks.append(collected)


with open(f"/proc/{os.getpid()}/cmdline", "rb") as _command:
    if _LOG and b"streamlit" in _command.read():
        _install()
