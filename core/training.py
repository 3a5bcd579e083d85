"""The step-by-step training loop shared by every iterative model (autoencoders, SAEs, NMF).

A model implements four hooks (see ``core.models.base.IterativeEstimator``); this module drives them,
logs metrics, applies live changes between steps, and stops a diverging run with its last good weights.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Iterator

import numpy as np


class TrainingDiverged(RuntimeError):
    """Raised when the loss becomes NaN or infinite; the model keeps its last good weights."""


class TrainControl:
    """A thread-safe handle to steer a running fit from another thread (the UI).

    ``request_stop()`` ends the run after the current step (after the next one, logged as the run's last row,
    when knob changes made since the last logged row still wait for their row: ``train_steps``);
    ``update(k=..., l1_coef=..., learning_rate=...)`` queues new values of live parameters, applied between
    two steps and recorded in ``history_``.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._updates: dict[str, Any] = {}

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def update(self, **params: Any) -> None:
        with self._lock:
            self._updates.update(params)

    def pop_updates(self, step: int | None = None) -> dict[str, Any]:
        """The updates queued since the last call (``step``: the step about to be trained, for a control
        that knows its own, e.g. ``core.schedule.ScheduledControl``)."""
        with self._lock:
            updates, self._updates = self._updates, {}
        return updates


# A loss this many times the data's mean square (the error of reconstructing every sample as 0) counts
# as diverged: Adam's bounded steps can grow the weights a long way before anything overflows.
EXPLODED_FACTOR = 1e6


def mean_square(X) -> float | None:
    """Mean square of the first rows of X: the scale any sane reconstruction error stays near."""
    try:
        head = np.asarray(X[:4096], dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):  # a device tensor or an unusual container: skip the check
        return None
    value = float(np.mean(np.square(head))) if head.size else 0.0
    return value if math.isfinite(value) and value > 0 else None


def divergence(row: dict[str, Any], scale: float | None) -> str | None:
    """Why ``row`` shows a diverged run (non-finite values, or a loss that exploded), or None."""
    if not all(math.isfinite(v) for v in row.values() if isinstance(v, float)):
        bad = next(k for k, v in row.items() if isinstance(v, float) and not math.isfinite(v))
        return f"the {bad} became {row[bad]}"
    loss = row.get("loss")
    if scale is not None and loss is not None and loss > EXPLODED_FACTOR * scale:
        return f"the loss exploded to {loss:.3g}, over a million times the data's mean square ({scale:.3g})"
    return None


def log_every_of(model) -> int:
    """Steps between two logged rows (the model's ``log_every``; 10 when unset)."""
    return max(1, int(getattr(model, "log_every", 10) or 10))


def is_log_step(step: int, log_every: int, last_step: int) -> bool:
    """Whether ``train_steps`` logs (and so reads the metrics of) this step: every ``log_every``-th and the last."""
    return step % log_every == 0 or step >= last_step


def train_steps(model, X, control: TrainControl | None = None) -> Iterator[dict[str, Any]]:
    """Fit ``model`` on ``X`` one step at a time, yielding a metrics row every ``model.log_every`` steps.

    Each row has at least ``step``, ``loss``, ``mse`` and ``seconds``; a row that follows a live change
    carries it under ``"event"`` (``{param: new value}``) and ``"changes"`` (each change with its step and old
    value, ``core.schedule``). Rows are appended to ``model.history_`` as they are made. A stop ends the run
    before the next step, or, when a change has no row yet, after it, with its row: no change goes unrecorded.
    Raises ``TrainingDiverged`` when a logged loss is not finite, after restoring the last good weights
    (and the knob values they were trained with).
    """
    model._begin_fit(X)
    max_steps = int(model._total_steps())
    log_every = log_every_of(model)
    start = time.perf_counter()
    pending_event: dict[str, Any] | None = None
    pending_changes: list[dict[str, Any]] = []
    step = 0
    scale = mean_square(X)
    for step in range(1, max_steps + 1):
        last = False
        if control is not None:
            if control.stop_requested and not pending_changes:
                step -= 1
                break
            updates = control.pop_updates(step)
            if updates:
                before = {name: getattr(model, name, None) for name in updates}
                applied = model._apply_live_updates(updates)
                if applied:
                    pending_event = {**(pending_event or {}), **applied}
                    # each change with the step it first trained: core.schedule replays the run from these
                    pending_changes += [{"step": step, "param": name, "old": before[name], "new": value}
                                        for name, value in applied.items()]
            # Stopped with changes that no row holds yet: this step ends the run, logged, so that its history
            # (the run's schedule, its config.json) keeps them; a replay stopped here logs the same step.
            last = control.stop_requested and bool(pending_changes)
            if last:
                _end_after(model, step)
        logged = last or is_log_step(step, log_every, max_steps)
        if logged:
            model._stage_good_state(step - 1)  # this step's logged loss is that of these weights
        metrics = model._train_step(step)
        if not logged:
            continue
        row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        row["seconds"] = time.perf_counter() - start
        if pending_event:
            row["event"], row["changes"] = pending_event, pending_changes
            pending_event, pending_changes = None, []
        reason = divergence(row, scale)
        if reason:
            model._restore_good_state()
            good_step = model._t.good_step
            _undo_changes_after(model, good_step, [*model.history_[-1:], row])
            model._end_fit(steps_done=good_step)
            raise TrainingDiverged(
                f"Training diverged at step {step}: {reason}. "
                f"The model keeps its weights from step {good_step}. "
                "Lower the learning rate (or the sparsity weight) and train again."
            )
        model._commit_good_state()
        model.history_.append(row)
        yield row
        # a model that converged (NMF's tol) says so in its training state; stop after logging that step's row
        if model._t.converged or last:
            break
    model._end_fit(steps_done=step)


def _undo_changes_after(model, step: int, rows: list[dict[str, Any]]) -> None:
    """Set each knob that ``rows`` changed after ``step`` back to its old value: the weights kept, those after
    ``step``, were trained with the old ones (and the run's config.json then replays to them)."""
    for change in reversed([change for row in rows for change in row.get("changes") or () if change["step"] > step]):
        model.set_params(**{change["param"]: change["old"]})


def _end_after(model, step: int) -> None:
    """Make ``step`` the last of the fit: a model that computes its full metrics only at logged steps reads
    them from its training state's ``last_step`` (``core.models.autoencoder``, through ``is_log_step``)."""
    if hasattr(model._t, "last_step"):
        model._t.last_step = step
