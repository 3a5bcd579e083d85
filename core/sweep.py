"""Hyperparameter sweeps: many models of one kind trained together, one batched step for all of them.

Sweep a grid of up to three parameters of one model times seeds: one point (trial) per grid point and
seed. Points that share a shape (``n_components``) and a seed form a group; a group of a batchable model
(``core.models.batchable()``: every SAE) that differs only in per-point parameters (``PER_POINT_PARAMS``)
trains as stacks (``core.sweep_stack.BatchedSAEStack``; on the CPU cut to fit the cache, ``core.stack_plan``),
as the dictionary_learning library trains many SAEs at once: every weight gets a leading sweep dimension and
all points see the same minibatch. The step is the model class's own, written over the last two dimensions
(each objective is written once, in its model's file); Adam is element-wise and the losses are summed, so
each point follows the trajectory it would follow alone from its own seed's initial weights on the first
point's minibatch stream. Other models (NMF, PCA, autoencoders), or other parameters, train point by point through
``fit_iter`` or ``fit`` (``Sweep.notes`` says so). ``Sweep.units()`` are the pieces that train alone (a
group, or one point) and ``Sweep.train_unit`` trains one: a worker elsewhere (``core.jobs.ray_backend``)
rebuilds the sweep from its config and trains its share.

``Sweep.steps(X, control)`` yields progress rows like ``core.training.train_steps`` and honours a stop
request; ``Sweep.estimators()`` then holds one fitted ``core.models`` estimator per point, ready for
``core.metrics.evaluate`` and ``core.jobs.saving.save_sweep(store, sweep, ...)``.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from core import models
from core.stack_plan import CPU_STACK_BYTES, cut_into_stacks, stack_limit
from core.states import DIVERGED, FINISHED, PENDING, SKIPPED, STOPPED
from core.sweep_stack import PER_POINT_PARAMS, BatchedSAEStack
from core.training import TrainControl, TrainingDiverged

#: a grid has at most this many parameters (each with its values); seeds multiply it
MAX_GRID_PARAMS = 3


@dataclass
class SweepConfig:
    """What to sweep: every point of ``grid`` (parameter -> values) of ``model`` times every seed in ``seeds``,
    every other parameter from ``base_params``.

    ``seeds`` default to ``base_params``' ``random_state`` (else 0): points of one shape and seed start from
    the same initial weights. ``batched=False`` trains point by point even where a batched trainer exists
    (for comparisons). The one-parameter form ``SweepConfig(model, param, values, base_params)`` (or
    ``param=``, ``values=``) means the grid ``{param: values}``; ``param`` and ``values`` are set whenever the
    grid has one parameter (None otherwise).
    """

    model: str
    grid: dict[str, list[Any]] | str = field(default_factory=dict)
    seeds: list[int] | None = None
    base_params: dict[str, Any] = field(default_factory=dict)
    batched: bool = True
    param: str | None = None
    values: list[Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.grid, str):  # positional one-parameter form: (model, param, values, base_params)
            self.param, self.values, self.grid, self.seeds = self.grid, self.seeds, {}, None
        if self.param is not None and not self.grid:
            self.grid = {self.param: list(self.values or [])}
        self.grid = {str(name): list(values) for name, values in dict(self.grid).items()}
        if self.seeds is None:
            self.seeds = [int(self.base_params.get("random_state") or 0)]
        self.seeds = list(self.seeds)
        self.param, self.values = next(iter(self.grid.items())) if len(self.grid) == 1 else (None, None)


@dataclass
class SweepPoint:
    """One point (trial) of a sweep: its grid values and seed, full parameters (``random_state`` = ``seed``),
    status, and (once trained) its estimator. ``value`` is the swept value when the grid has one parameter,
    else ``label``."""

    index: int
    value: Any
    params: dict[str, Any]
    seed: int = 0
    grid_values: dict[str, Any] = field(default_factory=dict)
    group: int = 0
    status: str = PENDING
    estimator: Any = None
    seconds: float = 0.0
    note: str = ""

    @property
    def label(self) -> str:
        """The point in words: ``k=4, n_components=32, seed 1``."""
        return ", ".join([*(f"{name}={value}" for name, value in self.grid_values.items()), f"seed {self.seed}"])


def grid_points(grid: dict[str, list[Any]], seeds: list[int]) -> list[tuple[dict[str, Any], int]]:
    """Every (grid values, seed) of ``grid`` times ``seeds``, the first parameter varying slowest, seeds fastest."""
    names = list(grid)
    return [(dict(zip(names, combo)), int(seed)) for combo in itertools.product(*grid.values()) for seed in seeds]


def check_grid(model: str, grid: dict[str, list[Any]], seeds: list[int]) -> None:
    """Refuse a grid that cannot be swept, naming the fix (``ValueError``)."""
    allowed = models.default_params(model)  # raises ValueError for an unknown model
    if len(grid) > MAX_GRID_PARAMS:
        raise ValueError(f"A sweep grid has at most {MAX_GRID_PARAMS} parameters; got {len(grid)} "
                         f"({', '.join(grid)}). Sweep fewer at once.")
    for name, values in grid.items():
        if name == "random_state":
            raise ValueError("Give the seeds as the sweep's seeds, not as a grid parameter random_state.")
        if name not in allowed:
            raise ValueError(f"Model {model!r} has no parameter {name!r} to sweep; "
                             f"its parameters: {', '.join(allowed)}.")
        if not values:
            raise ValueError(f"A sweep needs at least one value of {name}; give the values to try.")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"The sweep values {values} of {name} repeat; give each value once.")
    if not seeds:
        raise ValueError("A sweep needs at least one seed; give e.g. seeds [0].")
    if len(set(seeds)) != len(seeds) or not all(isinstance(s, (int, np.integer)) and s >= 0 for s in seeds):
        raise ValueError(f"The seeds {seeds} must be distinct whole numbers >= 0.")


class Sweep:
    """A sweep of one hyperparameter; see the module docstring."""

    #: called as ``observer(model, step)`` after each logged step, with the estimator training alone or the
    #: ``BatchedSAEStack`` (core.jobs.fit.SweepFiring records each point's firing density over training)
    observer = None

    def __init__(self, config: SweepConfig):
        self.config = config
        self.id = uuid.uuid4().hex[:12]
        check_grid(config.model, config.grid, config.seeds)
        has_k = models.family(config.model).has_k
        self.points = []
        for index, (values, seed) in enumerate(grid_points(config.grid, config.seeds)):
            params = {**config.base_params, **values, "random_state": seed}
            point = SweepPoint(index, None, params, seed, values)
            point.value = values[config.param] if config.param else point.label
            k, size = params.get("k"), params.get("n_components")
            if has_k and isinstance(k, (int, np.integer)) and isinstance(size, (int, np.integer)) and k > size:
                raise ValueError(f"k={k} is larger than n_components={size} at {point.label}: a sample cannot have "
                                 "more active codes than there are atoms; drop those values of k or give more atoms.")
            models.create(config.model, **params)  # every estimator built now: a bad parameter fails before training
            self.points.append(point)
        shapes: dict[Any, int] = {}
        for point in self.points:
            point.group = shapes.setdefault((point.params.get("n_components"), point.seed), len(shapes))
        self.groups = [[p.index for p in self.points if p.group == g] for g in range(len(shapes))]
        batchable = models.family(config.model).batchable
        unstackable = [name for name in config.grid if name not in PER_POINT_PARAMS]
        self.batched = config.batched and batchable and not unstackable
        self.n_features: int | None = None  # known once ``prepare`` saw the data: it sizes the stacks
        self.max_stack_bytes: int | None = CPU_STACK_BYTES  # None: whole groups (bench/sweep_speed.py)
        self.notes: list[str] = []
        if config.batched and not self.batched:
            why = (f"{config.model!r} has no batched trainer" if not batchable
                   else f"{', '.join(map(repr, unstackable))} cannot differ within one batched step")
            self.notes.append(f"Points train one after another: {why}.")

    def estimators(self) -> list[Any]:
        """One fitted estimator per point, in the order of the values (None where never trained)."""
        return [point.estimator for point in self.points]

    def run(self, X) -> list[Any]:
        """Train every point to the end; returns ``estimators()``."""
        for _ in self.steps(X):
            pass
        return self.estimators()

    def steps(self, X, control: TrainControl | None = None) -> Iterator[dict[str, Any]]:
        """Train the sweep, yielding one row per point every ``log_every`` steps.

        Each row has ``point``, ``value``, ``group``, ``step``, ``progress`` (0..1 over the whole
        sweep), ``seconds`` and the point's metrics (``loss``, ``mse``, ``l0``, ...). After a stop
        request the current group ends with its weights so far (``stopped``) and later groups are
        ``skipped``.
        """
        control = control or TrainControl()
        X = self.prepare(X)
        units = self.units()
        planned = [self.unit_steps(unit) for unit in units]
        done, start = 0, time.perf_counter()
        for unit, unit_steps in zip(units, planned):
            if control.stop_requested:
                self.skip(unit)
                continue
            for row in self.train_unit(unit, X, control):
                row["progress"] = min(1.0, (done + row["step"]) / sum(planned))
                row["seconds"] = time.perf_counter() - start
                yield row
            done += unit_steps

    def prepare(self, X) -> np.ndarray:
        """``X`` checked and converted as the model's own fit would."""
        first = models.create(self.config.model, **self.points[0].params)
        X = first._validate(X, reset=True) if hasattr(first, "_validate") else np.asarray(X, np.float32)
        self.n_features = int(X.shape[1])
        limits = [self._stack_limit(group) for group in self.groups] if self.batched else []
        cut = [limit for limit, group in zip(limits, self.groups) if limit is not None and limit < len(group)]
        if cut:
            note = ("On the CPU at this size the points of a group train one after another: a stack of them "
                    "would be slower per point." if min(cut) == 1 else
                    f"On the CPU at this size stacks hold at most {min(cut)} points: a larger stack would be "
                    "slower per point than fewer, one after another.")
            if note not in self.notes:
                self.notes.append(note)
        return X

    def units(self) -> list[list[int]]:
        """The pieces that train alone, in order: one point each unless batched; batched, the groups, each cut
        into stacks of at most ``core.stack_plan.stack_limit`` points once ``prepare`` has seen the data."""
        if not self.batched:
            return [[point.index] for point in self.points]
        return [unit for group in self.groups for unit in cut_into_stacks(group, self._stack_limit(group))]

    def _stack_limit(self, group: list[int]) -> int | None:
        if self.n_features is None:
            return None
        first = models.create(self.config.model, **self.points[group[0]].params)
        return stack_limit(first._n_latents(self.n_features), self.n_features, first._device(), self.max_stack_bytes)

    def unit_steps(self, unit: list[int]) -> int:
        return int(self.points[unit[0]].params.get("max_steps", 1) or 1)

    def skip(self, unit: list[int], note: str = "the sweep was stopped before this point started") -> None:
        for i in unit:
            self.points[i].status, self.points[i].note = SKIPPED, note

    def train_unit(self, unit: list[int], X: np.ndarray, control: TrainControl) -> Iterator[dict[str, Any]]:
        """Train the points of one unit (``units()``) on prepared ``X``, yielding their progress rows."""
        points = [self.points[i] for i in unit]
        trainer = self._batched_group if self.batched and len(points) > 1 else self._train_alone
        yield from trainer(points, X, control)

    def _row(self, point: SweepPoint, step: int, metrics: dict[str, float]) -> dict[str, Any]:
        return {"point": point.index, "param": self.config.param, "value": point.value, "seed": point.seed,
                **point.grid_values, "group": point.group, "step": step, **metrics}

    def _train_alone(self, points: list[SweepPoint], X: np.ndarray, control: TrainControl):
        (point,) = points
        estimator = models.create(self.config.model, **point.params)
        started = time.perf_counter()
        try:
            if hasattr(estimator, "fit_iter"):
                for row in estimator.fit_iter(X, control):
                    if self.observer is not None:
                        self.observer(estimator, row["step"])
                    yield self._row(point, row["step"], {k: v for k, v in row.items() if k not in ("step", "seconds")})
                planned = int(getattr(estimator, "max_steps", 0) or 0)
                stopped = control.stop_requested and int(getattr(estimator, "n_steps_", planned)) < planned
                point.status = STOPPED if stopped else FINISHED
            else:  # closed form (PCA): one row when done
                estimator.fit(X)
                point.status = FINISHED
                yield self._row(point, int(point.params.get("max_steps", 1) or 1), {})
        except TrainingDiverged as error:
            point.status, point.note = DIVERGED, str(error)
        point.estimator, point.seconds = estimator, time.perf_counter() - started

    def _batched_group(self, points: list[SweepPoint], X: np.ndarray, control: TrainControl):
        started = time.perf_counter()
        estimators = [models.create(self.config.model, **p.params) for p in points]
        stack = BatchedSAEStack(estimators, X)
        first = estimators[0]
        log_every = max(1, int(getattr(first, "log_every", 10) or 10))
        max_steps, step = int(first.max_steps), 0
        for step in range(1, max_steps + 1):
            if control.stop_requested:
                step -= 1
                break
            updates = control.pop_updates()
            if updates:
                stack.apply_live_updates(updates)
            metrics = stack.train_step(step)
            if step % log_every and step != max_steps:
                continue
            logged = stack.log(step, metrics)
            if self.observer is not None:
                self.observer(stack, step)
            for s, row in enumerate(logged):
                if row is not None:
                    yield self._row(points[s], step, row)
        finished = step == max_steps
        for s, point in enumerate(points):
            point.estimator = stack.fitted_estimator(s, steps_done=step)
            point.status = DIVERGED if stack.diverged_at[s] else (FINISHED if finished else STOPPED)
            if stack.diverged_at[s]:
                point.note = (f"Training diverged at step {stack.diverged_at[s]}; the point keeps its last good "
                              "weights. Lower the learning rate or the sparsity weight.")
        share = (time.perf_counter() - started) / len(points)  # the stack's time, evenly: one figure for each
        for point in points:
            point.seconds = share
