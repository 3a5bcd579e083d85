"""The body of a training job, the same in a thread of this process and in a worker process.

``run_fit`` trains a model and reports to a *sink* as it goes: ``sink.row(row)`` for every metrics row,
``sink.atoms(array)`` about every ``atoms_every`` seconds, ``sink.reference(mse)`` once, and
``sink.phase(words)`` as its start goes on (``FIRST_STEPS``, then ``PCA_REFERENCE``, then None once it
trains), so a run whose first steps take long says what it is doing. It returns how the run ended; the
model keeps its fitted (or last good) weights.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np

from core.analysis.features import FIRING_KEY
from core.metrics import activity_threshold, evaluate, feature_density, pca_mse
from core.states import ACTIVE_STATES, DIVERGED, DONE, FAILED, RUNNING, STOPPED, WAITING  # noqa: F401 - core.jobs' names
from core.jobs.worker import EventSink, register_task
from core.training import TrainControl, TrainingDiverged

#: the phases of a run's start, in the words a page shows
LOADING, FIRST_STEPS, PCA_REFERENCE = "loading the data", "first steps", "computing the PCA reference"


class Sink(Protocol):
    def row(self, row: dict[str, Any]) -> None: ...
    def atoms(self, atoms: np.ndarray) -> None: ...
    def reference(self, mse: float | None) -> None: ...
    def phase(self, words: str | None) -> None: ...


def run_fit(model, X: np.ndarray, control: TrainControl, sink: Sink,
            atoms_every: float = 0.3) -> tuple[str, str | None, dict[str, float]]:
    """Fit ``model`` on ``X``; returns ``(state, error, final_metrics)`` (state: done, stopped, diverged
    or failed). Errors never escape: a failed run says why in ``error``."""
    state, error = DONE, None
    sink.phase(FIRST_STEPS)
    try:
        if hasattr(model, "fit_iter"):
            _run_iterative(model, X, control, sink, atoms_every)
        else:
            _run_closed_form(model, X, sink)
        if control.stop_requested:
            state = STOPPED
    except TrainingDiverged as exc:  # the model kept its last good weights
        state, error = DIVERGED, str(exc)
    except ValueError as exc:  # core's message names the problem and the fix
        state, error = FAILED, str(exc)
    except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
        state, error = FAILED, f"{type(exc).__name__}: {exc}"
    sink.phase(None)
    _send_atoms(sink, getattr(model, "components_", None))
    return state, error, ({} if state == FAILED else final_metrics(model, X))


def _run_iterative(model, X, control, sink, atoms_every: float) -> None:
    last_atoms, first = 0.0, True
    firing = FiringRecorder(model, X)
    for row in model.fit_iter(X, control):
        sink.row(firing.record(model, row))
        if first:
            sink.phase(PCA_REFERENCE)
            sink.reference(reference_mse(model, X))
            sink.phase(None)
            first = False
        now = time.monotonic()
        if now - last_atoms >= atoms_every:
            _send_atoms(sink, model.current_components())
            last_atoms = now


class FiringRecorder:
    """Each feature's firing frequency on a fixed sample of the data (``FIRING_ROWS`` rows), added to a
    logged row under ``FIRING_KEY`` every so many steps: Inspect draws it as firing density over training.
    Small by design: at most ``FIRING_SNAPSHOTS`` records and about ``FIRING_VALUES`` numbers per run, and
    a record that takes over ``CHEAP`` seconds waits while it would take over ``max_share`` of the training
    time (a tenth by default)."""

    FIRING_ROWS, FIRING_SNAPSHOTS, FIRING_VALUES, MAX_SHARE, CHEAP = 1024, 64, 100_000, 0.1, 0.02

    def __init__(self, model, X, max_share: float | None = None) -> None:
        self.max_share = self.MAX_SHARE if max_share is None else float(max_share)
        self.sample, self.every, self.next_step = None, 1, 0
        self.cost, self.last_at = 0.0, 0.0
        try:
            m, steps = int(model.get_params()["n_components"]), int(model.max_steps)
            rows = np.linspace(0, X.shape[0] - 1, min(X.shape[0], self.FIRING_ROWS)).astype(int)
            self.sample = X[rows]
        except Exception:  # noqa: BLE001 - a model without n_components or max_steps records nothing
            return
        snapshots = max(8, min(self.FIRING_SNAPSHOTS, self.FIRING_VALUES // max(1, m)))
        self.every = max(1, -(-steps // snapshots))

    def record(self, model, row: dict[str, Any]) -> dict[str, Any]:
        """``row``, with the firing frequencies when it is time for a record."""
        step = int(row["step"])
        recorded = self.measure(step, lambda: [self.density(model, step)])
        return row if recorded is None else {**row, FIRING_KEY: recorded[0]}

    def measure(self, step: int, densities) -> list[list[float]] | None:
        """``densities()`` (the firing frequencies of one or more models on ``sample``), rounded, when it is
        time for a record at ``step``; else None."""
        now = time.perf_counter()
        if self.sample is None or step < self.next_step:
            return None
        if self.cost > self.CHEAP and now - self.last_at < self.cost / self.max_share:
            return None
        try:
            fractions = densities()
        except Exception:  # noqa: BLE001 - the record is a bonus: a model that cannot encode mid-fit skips it
            self.sample = None
            return None
        self.last_at = time.perf_counter()
        self.cost, self.next_step = self.last_at - now, step + self.every
        return [[round(float(f), 4) for f in model_fractions] for model_fractions in fractions]

    def density(self, model, step: int | None = None) -> np.ndarray:
        """Each feature's firing frequency on ``sample``; with ``step``, the fitted arrays are first written
        from the weights as they are now (as the fit's end, _end_fit, writes them again)."""
        if step is not None:
            model.n_steps_ = step
            model._finish()
        return feature_density(model.transform(self.sample), activity_threshold(model))


class SweepFiring:
    """``core.sweep.Sweep``'s observer: each point's firing density over training, added to its history row of
    the logged step (the run store saves it, Inspect draws it), as ``FiringRecorder`` does for a Train run.
    A batched stack's points are measured together, each with its own weights of the moment; the records take
    at most ``MAX_SHARE`` of the training time (less than a Train run's: a sweep is about throughput)."""

    MAX_SHARE = 0.03

    def __init__(self, X) -> None:
        self.X = X
        # the unit training now (units train one after another): its model's id, its last step, its recorder;
        # one at a time, so a long sweep holds one sample of the data, not one per trial
        self.current: tuple[int, int, FiringRecorder] | None = None

    def __call__(self, model, step: int) -> None:
        stack = getattr(model, "histories", None) is not None
        members = model.estimators if stack else [model]
        histories = model.histories if stack else [getattr(model, "history_", [])]
        if self.current is None or self.current[0] != id(model) or step <= self.current[1]:  # a new unit
            self.current = (id(model), step, FiringRecorder(members[0], self.X, self.MAX_SHARE))
        recorder = self.current[2]
        self.current = (id(model), step, recorder)
        logged = [s for s, history in enumerate(histories) if history and history[-1].get("step") == step]
        if not logged:  # every point of it has diverged
            return
        recorded = recorder.measure(step, lambda: self._densities(model, members, logged, recorder) if stack
                                    else [recorder.density(model, step)])
        for s, fractions in zip(logged, recorded or []):
            histories[s][-1][FIRING_KEY] = fractions

    @staticmethod
    def _densities(stack, members, logged: list[int], recorder: FiringRecorder) -> list[np.ndarray]:
        stack.model._finish()  # the stacked fitted arrays from the weights as they are now
        n_features = recorder.sample.shape[1]
        return [recorder.density(members[s].set_weights(stack.member_weights(s), n_features)) for s in logged]


def _run_closed_form(model, X, sink) -> None:
    t0 = time.perf_counter()
    model.fit(X)
    mse = float(np.mean((X - model.reconstruct(X)) ** 2))
    sink.row({"step": 1, "loss": mse, "mse": mse, "seconds": time.perf_counter() - t0})
    sink.phase(PCA_REFERENCE)
    sink.reference(reference_mse(model, X))


def _send_atoms(sink, atoms) -> None:
    """Publish a copy of the atoms; non-finite ones are refused, so the last good atoms stay shown."""
    if atoms is None:
        return
    atoms = np.array(atoms, dtype=np.float32, copy=True)
    if np.isfinite(atoms).all():
        sink.atoms(atoms)


def reference_mse(model, X) -> float | None:
    """The rank-matched PCA error (``core.metrics.pca_mse``), or None when it does not apply."""
    try:
        return float(pca_mse(X, int(model.get_params()["n_components"])))
    except Exception:  # noqa: BLE001 - no n_components, or odd data: a reference line is a bonus
        return None


def final_metrics(model, X) -> dict[str, float]:
    try:
        return {k: float(v) for k, v in evaluate(model, X).items()}
    except Exception:  # noqa: BLE001 - metrics are a bonus; the history has the essentials
        return {}


def fit_task(events, job_id: int, control, model, X, atoms_every: float) -> None:
    """The worker's ``fit`` task: ``run_fit``, then the fitted model back to the parent."""
    if control.stop_requested:  # stopped while it waited for this process to warm up
        state, error, metrics = STOPPED, None, {}
    else:
        events.send(("begin", job_id))
        state, error, metrics = run_fit(model, X, control, EventSink(events, job_id), atoms_every)
    try:
        events.send(("end", job_id, state, error, metrics, model))
    except Exception as exc:  # noqa: BLE001 - a model that cannot travel back still ends its job
        events.send(("end", job_id, FAILED, f"The trained model could not be returned: {exc}", {}, None))


register_task("fit", fit_task)
