"""The step-by-step training loop shared by every iterative model (autoencoders, SAEs, NMF).

A model implements four hooks (see ``core.models.base.IterativeEstimator``); this module drives them,
logs metrics, applies live changes between steps, and stops a diverging run with its last good weights.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Iterator


class TrainingDiverged(RuntimeError):
    """Raised when the loss becomes NaN or infinite; the model keeps its last good weights."""


class TrainControl:
    """A thread-safe handle to steer a running fit from another thread (the UI).

    ``request_stop()`` ends the run after the current step; ``update(k=..., l1_coef=..., learning_rate=...)``
    queues new values of live parameters, applied between two steps and recorded in ``history_``.
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

    def pop_updates(self) -> dict[str, Any]:
        with self._lock:
            updates, self._updates = self._updates, {}
        return updates


def _is_finite(row: dict[str, Any]) -> bool:
    return all(math.isfinite(v) for v in row.values() if isinstance(v, float))


def train_steps(model, X, control: TrainControl | None = None) -> Iterator[dict[str, Any]]:
    """Fit ``model`` on ``X`` one step at a time, yielding a metrics row every ``model.log_every`` steps.

    Each row has at least ``step``, ``loss``, ``mse`` and ``seconds``; a row that follows a live change
    carries it under ``"event"``. Rows are appended to ``model.history_`` as they are made.
    Raises ``TrainingDiverged`` when a logged loss is not finite, after restoring the last good weights.
    """
    model._begin_fit(X)
    max_steps = int(model._total_steps())
    log_every = max(1, int(getattr(model, "log_every", 10) or 10))
    start = time.perf_counter()
    pending_event: dict[str, Any] | None = None
    step = 0
    for step in range(1, max_steps + 1):
        if control is not None:
            if control.stop_requested:
                step -= 1
                break
            updates = control.pop_updates()
            if updates:
                applied = model._apply_live_updates(updates)
                if applied:
                    pending_event = {**(pending_event or {}), **applied}
        metrics = model._train_step(step)
        if step % log_every and step != max_steps:
            continue
        row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        row["seconds"] = time.perf_counter() - start
        if pending_event:
            row["event"] = pending_event
            pending_event = None
        if not _is_finite(row):
            model._restore_good_state()
            model._end_fit(steps_done=model._good_step)
            raise TrainingDiverged(
                f"Training diverged at step {step}: the loss became {row.get('loss')}. "
                f"The model keeps its weights from step {model._good_step}. "
                "Lower the learning rate (or the sparsity weight) and train again."
            )
        model._save_good_state(step)
        model.history_.append(row)
        yield row
        # a model that converged (NMF's tol) sets _t_converged; stop after logging that step's row
        if getattr(model, "_t_converged", False):
            break
    model._end_fit(steps_done=step)
