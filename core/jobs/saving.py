"""Saving a training job to the run store when it ends (in a thread: ``save_when_done``), and exporting it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from core import checkpoint, schedule
from core.analysis.tables import training_seconds
from core.jobs.fit import DIVERGED, DONE, STOPPED
from core.states import store_status


# -- saving training jobs to the run store ---------------------------------------------------------------------
def save_job(store, job, *, dataset: str | None = None, data_options: dict[str, Any] | None = None,
             name: str | None = None, extra: dict[str, Any] | None = None, run_id: str | None = None):
    """Save an ended ``core.jobs.TrainingJob`` to ``store`` (a ``core.store.RunStore``); returns its record,
    or None when there is nothing to save (the job failed before any weights, or has not ended).

    A done job is saved ``finished``; a stopped or diverged one ``stopped`` (diverged runs keep their
    last good weights). The metrics are the job's final ones plus its training time (``seconds``).
    ``run_id`` is a run recorded by ``store.begin_run`` at the job's start: it is completed (or closed as
    failed when there is nothing to save) instead of a new run being made.
    """
    snap = job.snapshot(touch=False)
    if snap.state not in (DONE, STOPPED, DIVERGED) or not hasattr(job.model, "components_"):
        if run_id is not None and not snap.active:
            store.abandon_run(run_id, note=snap.error or "the run ended without weights")
        return None
    metric_values = {**snap.metrics, "seconds": training_seconds(snap.history)}
    more = {"job_state": snap.state, **({"error": snap.error} if snap.error else {}), **(extra or {})}
    outcome = dict(status=store_status(snap.state), metrics=metric_values,
                   history=snap.history, X=None if snap.metrics else job.X, image_shape=job.image_shape,
                   extra=more)
    if run_id is not None:
        return store.finish_run(run_id, job.model, **outcome)
    return store.save_run(job.model, dataset=dataset or job.dataset_name, data_options=data_options or {},
                          name=name, **outcome)


def save_sweep_point(store, sweep, point, *, dataset: str, data_options: dict[str, Any] | None = None,
                     metrics: dict[str, Any] | None = None, X=None, image_shape=None, device: str | None = None,
                     group: str | None = None):
    """Save one trained point of a ``core.sweep.Sweep`` to ``store``, grouped by the sweep's id; its metrics
    are ``metrics``, or computed on ``X``. A diverged point is saved ``stopped`` with its last good weights.
    The record's extra holds the point's ``seed`` and ``sweep_grid`` values (to group trials by), for a
    one-parameter grid ``sweep_param`` and ``sweep_value``, ``device``, where it trained, when given, and
    ``sweep_group``: the id shared by every model's sweep started together (one ``SweepJob``), when given."""
    return store.save_run(
        point.estimator, dataset=dataset, data_options=data_options, metrics=metrics, X=X, image_shape=image_shape,
        name=f"{sweep.config.model} {point.label}", status=store_status(point.status),
        sweep=sweep.id, extra={"sweep_param": sweep.config.param, "sweep_value": point.value, "seed": point.seed,
                               "sweep_grid": dict(point.grid_values), "sweep_point": point.index,
                               "sweep_status": point.status, "batched": sweep.batched,
                               **({"device": device} if device else {}),
                               **({"sweep_group": group} if group else {})})


def save_sweep(store, sweep, *, dataset: str, data_options: dict[str, Any] | None = None, X=None,
               image_shape=None) -> list[Any]:
    """Save every trained point of ``sweep`` (``save_sweep_point``); returns the records."""
    return [save_sweep_point(store, sweep, point, dataset=dataset, data_options=data_options, X=X,
                             image_shape=image_shape) for point in sweep.points if point.estimator is not None]


@dataclass
class SaveTicket:
    """The result of ``save_when_done``: ``recorded`` is set once the run's start is in the store (or that
    failed), ``done`` once the job ended and the save was tried. ``job_id``: the job it saves; ``data_options``:
    those its data set was loaded with."""

    recorded: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    record: Any = None
    error: str | None = None
    job_id: int | None = None
    data_options: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str | None:
        return getattr(self.record, "id", None)


def save_when_done(job, store=None, record_within: float = 2.0, **save_options) -> SaveTicket:
    """Wait (in a daemon thread) for ``job`` to end, then ``save_job`` it; returns a ticket to read later.

    ``store`` defaults to ``RunStore()`` (``$SAE_EXPLORER_RUNS``). Call it right after submitting a job,
    e.g. in the Train page's runner, so that every finished or stopped run lands in the store even
    when nobody is looking at the page when it ends. It returns once the run's start is recorded (a few
    ms), so a process killed from then on leaves the run marked 'interrupted'; a slow disk holds the
    caller at most ``record_within`` seconds, the recording goes on in the thread.
    """
    ticket = SaveTicket(job_id=getattr(job, "id", None), data_options=dict(save_options.get("data_options") or {}))

    def _work() -> None:
        try:
            from core.store import RunStore

            run_store = store if store is not None else RunStore(recover=False)  # the app's own open recovers
            # recorded now, so that a server killed mid-run leaves it marked 'interrupted'
            run_id = run_store.begin_run(job.model, dataset=save_options.get("dataset") or job.dataset_name,
                                         data_options=save_options.get("data_options"),
                                         name=save_options.get("name"), extra=save_options.get("extra"))
            job.run_id = run_id  # its address from now on: other pages find it by this id (JobManager.job_at)
            ticket.recorded.set()
            job.wait()
            ticket.record = save_job(run_store, job, run_id=run_id, **save_options)
        except Exception as error:  # noqa: BLE001 - reported on the ticket, shown by the page
            ticket.error = f"The run could not be saved: {error}"
        finally:
            ticket.recorded.set()
            ticket.done.set()

    threading.Thread(target=_work, name=f"save-job-{getattr(job, 'id', '')}", daemon=True).start()
    ticket.recorded.wait(record_within)
    return ticket


def export_bytes(job, ticket: SaveTicket | None = None) -> bytes:
    """An ended job's checkpoint ZIP (a download), with the config.json the run store keeps: its data set and
    options, the parameters it started with and the schedule of its knob changes, so that
    ``python -m core train --config config.json`` replays it; ``ticket``: its ``save_when_done``'s (one of
    another job is ignored)."""
    if ticket is not None and ticket.job_id != getattr(job, "id", None):
        ticket = None
    history = job.snapshot(touch=False).history
    more = {"run_id": ticket.run_id} if ticket is not None and ticket.run_id else {}
    extra = schedule.replay_extra(job.dataset_name, ticket.data_options if ticket is not None else {}, history,
                                  getattr(job, "image_shape", None), getattr(job.model, "n_steps_", None), **more)
    return checkpoint.to_bytes(job.model, extra_config=extra)
