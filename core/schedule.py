"""A run's knob changes as a schedule: kept with the run, exported, drawn and replayed.

While a model trains, ``core.training.train_steps`` applies live changes (a slider moved on the Train page)
between two steps and records each one on the next logged row of the history, under ``"changes"``: a list
of ``{"step": s, "param": p, "old": o, "new": n}``, where ``s`` is the first step trained with the new
value. (The row's ``"event"``, ``{param: new}``, is what the loss curve marks at the row's step.)

From a run's history this module makes its schedule (``schedule_of``), the parameters it started with
(``starting_params``: a fitted model's own parameters are its final ones), and the marks of its loss curve
(``chart_events``). ``ScheduledControl`` replays a schedule in a new fit, each change before the same step,
so ``python -m core train --config config.json`` reaches the same weights as the run it was exported from.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

from core.training import TrainControl

CHANGE_KEYS = ("step", "param", "old", "new")


def schedule_of(history: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The knob changes recorded in a run's ``history`` rows, in the order they were applied."""
    return [dict(change) for row in history or () for change in row.get("changes") or ()]


def starting_params(params: dict[str, Any], schedule: list[dict[str, Any]]) -> dict[str, Any]:
    """``params`` (a model's parameters after its run) with each changed parameter set back to the value it
    had before its first change: the parameters the run started with."""
    started = dict(params)
    for change in reversed(schedule):  # the earliest change of a parameter is written last, so it wins
        started[change["param"]] = change["old"]
    return started


def replay_extra(data: str, data_options: dict[str, Any] | None, history=None, image_shape=None,
                 steps: int | None = None, **more: Any) -> dict[str, Any]:
    """The ``extra_config`` of ``core.checkpoint`` that makes a saved run replayable (``python -m core train
    --config``): the data set's name and the options it was loaded with, its picture shape, the knob changes
    in ``history`` and ``steps``, the steps it trained (fewer than ``max_steps`` when it was stopped)."""
    shape = {"image_shape": [int(s) for s in image_shape]} if image_shape is not None else {}
    trained = {"steps": int(steps)} if steps is not None else {}
    return {"data": str(data), "data_options": dict(data_options or {}), **shape, "schedule": schedule_of(history),
            **trained, **more}


def chart_events(history: Iterable[dict[str, Any]] | None) -> list[tuple[int, dict[str, Any]]]:
    """The marks a loss curve draws for a run's knob changes: ``(step, {param: new value})`` at the logged
    row that followed them, the same list a live run's snapshot holds (``Snapshot.events``)."""
    return [(int(row["step"]), dict(row["event"])) for row in history or () if row.get("event")]


def check_schedule(schedule: Any, live_params: Iterable[str], max_steps: int | None = None,
                   where: str = "config.json") -> list[dict[str, Any]]:
    """``schedule`` (read from a file) checked: a list of changes with a step from 1 (to ``max_steps``), a
    parameter the model can change during a run, and a new value; raises ValueError saying what is wrong."""
    if schedule is None:
        return []
    if not isinstance(schedule, list):
        raise ValueError(f"{where}: 'schedule' must be a list of knob changes, not {type(schedule).__name__}.")
    live = tuple(live_params)
    checked = []
    for number, change in enumerate(schedule, start=1):
        what = f"{where}: schedule entry {number}"
        if not isinstance(change, dict) or not {"step", "param", "new"} <= set(change):
            raise ValueError(f"{what} must be an object with 'step', 'param' and 'new' (and 'old'), "
                             f"not {change!r}.")
        step, param = change["step"], change["param"]
        if not isinstance(step, numbers.Integral) or isinstance(step, bool) or step < 1:
            raise ValueError(f"{what}: 'step' must be a whole number from 1, not {step!r}.")
        if max_steps is not None and step > max_steps:
            raise ValueError(f"{what} is at step {step}, after the run's last step ({max_steps}); "
                             "raise max_steps in 'params' or remove the entry.")
        if param not in live:
            raise ValueError(f"{what}: {param!r} cannot change during a run of this model; the knobs that can "
                             f"are {', '.join(live) or 'none'}.")
        checked.append({"step": int(step), "param": param, "old": change.get("old"), "new": change["new"]})
    if [c["step"] for c in checked] != sorted(c["step"] for c in checked):
        raise ValueError(f"{where}: the schedule's steps must not go backwards; list its changes in step order.")
    return checked


class ScheduledControl(TrainControl):
    """A ``TrainControl`` that also applies ``schedule``'s changes, each before its step (the training loop
    asks for the updates of each step before training it), and stops after step ``stop_after`` (a run that
    was stopped there); ``update`` and ``request_stop`` work as ever."""

    def __init__(self, schedule: list[dict[str, Any]], stop_after: int | None = None) -> None:
        super().__init__()
        self.stop_after = stop_after
        self._by_step: dict[int, dict[str, Any]] = {}
        for change in schedule:
            self._by_step.setdefault(int(change["step"]), {})[change["param"]] = change["new"]

    def pop_updates(self, step: int | None = None) -> dict[str, Any]:
        scheduled = self._by_step.pop(step, {}) if step is not None else {}
        if step is not None and self.stop_after is not None and step >= self.stop_after:
            self.request_stop()  # this step still trains: the loop stops before the next one
        return {**scheduled, **super().pop_updates(step)}
