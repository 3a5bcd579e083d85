"""Hyperparameter sweeps: many models of one kind trained together, one batched step for all of them.

Sweep one parameter of one model over values (``SWEEPABLE``, and a few more). Points that share a shape
(``n_components``) form a group; a group of a batched model (``BATCHED_MODELS``) trains as one stack, as
the dictionary_learning library trains many SAEs at once: every weight gets a leading sweep dimension, the
passes are ``torch.baddbmm``/``bmm`` over it, and all points see the same minibatch. The math is that of
``core.models.sae*`` (unit-norm atoms with the parallel gradient removed, decoder bias at the data mean,
encoder = decoder transpose, Adam with warm-up, AuxK on dead latents); Adam is element-wise and the losses
are summed, so each point follows the trajectory it would follow alone from its own seed's initial weights
on the first point's minibatch stream. Other models, or other parameters, train point by point through
``fit_iter`` (``Sweep.notes`` says so).

``Sweep.steps(X, control)`` yields progress rows like ``core.training.train_steps`` and honours a stop
request; ``Sweep.estimators()`` then holds one fitted ``core.models`` estimator per point, ready for
``core.metrics.evaluate`` and ``Sweep.save_to(store, ...)``.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from core import models
from core.training import TrainControl, TrainingDiverged

SWEEPABLE = ("k", "l1_coef", "n_components", "sparsity_target")
BATCHED_MODELS = ("sae-topk", "sae-batchtopk", "sae-l1", "sae-kl")
#: parameters that may differ between the points of one batched group (n_components makes the groups)
PER_POINT_PARAMS = ("k", "l1_coef", "sparsity_target", "sparsity_weight", "auxk_coef", "n_components")
PENDING, FINISHED, STOPPED, DIVERGED, SKIPPED = "pending", "finished", "stopped", "diverged", "skipped"


@dataclass
class SweepConfig:
    """What to sweep: ``param`` of ``model`` over ``values``, every other parameter from ``base_params``.

    ``random_state`` defaults to 0, so points of one shape start from the same initial weights.
    ``batched=False`` trains point by point even where a batched trainer exists (for comparisons).
    """

    model: str
    param: str
    values: list[Any]
    base_params: dict[str, Any] = field(default_factory=dict)
    batched: bool = True


@dataclass
class SweepPoint:
    """One point of a sweep: its value, full parameters, status, and (once trained) its estimator."""

    index: int
    value: Any
    params: dict[str, Any]
    group: int = 0
    status: str = PENDING
    estimator: Any = None
    seconds: float = 0.0
    note: str = ""


class Sweep:
    """A sweep of one hyperparameter; see the module docstring."""

    def __init__(self, config: SweepConfig):
        self.config = config
        self.id = uuid.uuid4().hex[:12]
        allowed = models.default_params(config.model)  # raises ValueError for an unknown model
        if config.param not in allowed:
            raise ValueError(f"Model {config.model!r} has no parameter {config.param!r} to sweep; "
                             f"its parameters: {', '.join(allowed)}.")
        values = list(config.values)
        if not values:
            raise ValueError("A sweep needs at least one value; give the values to try.")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"The sweep values {values} repeat; give each value once.")
        base = {"random_state": 0, **config.base_params}
        base.pop(config.param, None)
        self.points = [SweepPoint(i, v, {**base, config.param: v}) for i, v in enumerate(values)]
        for point in self.points:  # build every estimator now: a bad parameter fails before training
            models.create(config.model, **point.params)
        shapes: dict[Any, int] = {}
        for point in self.points:
            point.group = shapes.setdefault(point.params.get("n_components"), len(shapes))
        self.groups = [[p.index for p in self.points if p.group == g] for g in range(len(shapes))]
        self.batched = config.batched and config.model in BATCHED_MODELS and config.param in PER_POINT_PARAMS
        self.notes: list[str] = []
        if config.batched and not self.batched:
            why = (f"{config.model!r} has no batched trainer" if config.model not in BATCHED_MODELS
                   else f"{config.param!r} cannot differ within one batched step")
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
        first = models.create(self.config.model, **self.points[0].params)
        X = first._validate(X, reset=True) if hasattr(first, "_validate") else np.asarray(X, np.float32)
        units = self.groups if self.batched else [[point.index] for point in self.points]
        planned = [int(self.points[unit[0]].params.get("max_steps", 1) or 1) for unit in units]
        done, start = 0, time.perf_counter()
        for unit, unit_steps in zip(units, planned):
            points = [self.points[i] for i in unit]
            if control.stop_requested:
                for point in points:
                    point.status, point.note = SKIPPED, "the sweep was stopped before this point started"
                continue
            trainer = self._batched_group if self.batched else self._train_alone
            for row in trainer(points, X, control):
                row["progress"] = min(1.0, (done + row["step"]) / sum(planned))
                row["seconds"] = time.perf_counter() - start
                yield row
            done += unit_steps

    def _row(self, point: SweepPoint, step: int, metrics: dict[str, float]) -> dict[str, Any]:
        return {"point": point.index, "param": self.config.param, "value": point.value, "group": point.group,
                "step": step, **metrics}

    def _train_alone(self, points: list[SweepPoint], X: np.ndarray, control: TrainControl):
        (point,) = points
        estimator = models.create(self.config.model, **point.params)
        started = time.perf_counter()
        try:
            if hasattr(estimator, "fit_iter"):
                for row in estimator.fit_iter(X, control):
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
            for s, row in enumerate(stack.log(step, metrics)):
                if row is not None:
                    yield self._row(points[s], step, row)
        finished = step == max_steps
        for s, point in enumerate(points):
            point.estimator = stack.fitted_estimator(s, steps_done=step)
            point.status = DIVERGED if stack.diverged_at[s] else (FINISHED if finished else STOPPED)
            if stack.diverged_at[s]:
                point.note = (f"Training diverged at step {stack.diverged_at[s]}; the point keeps its last good "
                              "weights. Lower the learning rate or the sparsity weight.")
            point.seconds = (time.perf_counter() - started) / len(points)

    # -- results -------------------------------------------------------------------------------------
    def table(self, X=None) -> list[dict[str, Any]]:
        """One row per point: its value, status and metrics (``core.metrics.evaluate`` on ``X`` when given,
        else the last logged training row)."""
        from core.metrics import evaluate

        rows = []
        for point in self.points:
            row = {"point": point.index, self.config.param: point.value, "model": self.config.model,
                   "status": point.status, "seconds": point.seconds}
            estimator = point.estimator
            if estimator is not None:
                history = getattr(estimator, "history_", None) or [{}]
                row.update({k: v for k, v in history[-1].items() if k not in ("event", "seconds")})
                if X is not None:
                    row.update(evaluate(estimator, X))
            rows.append(row)
        return rows

    def save_to(self, store, *, dataset: str, data_options: dict[str, Any] | None = None, X=None,
                image_shape=None) -> list[Any]:
        """Save every trained point to a ``core.store.RunStore`` (grouped by this sweep's id); returns
        the records. Metrics come from ``X`` when given. Diverged points are saved as ``stopped``."""
        records = []
        for point in self.points:
            if point.estimator is None:
                continue
            records.append(store.save_run(
                point.estimator, dataset=dataset, data_options=data_options, X=X, image_shape=image_shape,
                name=f"{self.config.model} {self.config.param}={point.value}",
                status="finished" if point.status == FINISHED else "stopped", sweep=self.id,
                extra={"sweep_param": self.config.param, "sweep_value": point.value, "sweep_point": point.index,
                       "sweep_status": point.status, "batched": self.batched}))
        return records


class BatchedSAEStack:
    """S sparse autoencoders of one shape as stacked tensors, trained by one optimiser on one data stream.

    ``estimators`` are unfitted ``core.models`` SAEs of one class that differ only in per-point parameters;
    their own hooks give the initial weights (``_generator``, ``_init_atoms``, ``_init_decoder_bias``).
    """

    def __init__(self, estimators: list[Any], X: np.ndarray):
        first = estimators[0]
        self.kind = models.name_of(first)
        if self.kind not in BATCHED_MODELS or any(models.name_of(e) != self.kind for e in estimators):
            raise ValueError(f"BatchedSAEStack trains one of {BATCHED_MODELS}, all alike; got {self.kind!r}.")
        self.estimators = estimators
        device = first._device()
        self.X = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=device)
        n_samples, n_features = self.X.shape
        for estimator in estimators:
            estimator._check_params()
            estimator._n_latents(n_features)  # validates k <= n_components
        n_latents = first._n_latents(n_features)
        generators = [estimator._generator() for estimator in estimators]
        W_dec = torch.stack([estimator._init_atoms(n_latents, n_features, generator, device)
                             for estimator, generator in zip(estimators, generators)])
        self.generator = generators[0]  # the minibatch stream of the first point trained alone
        b_dec = first._init_decoder_bias(self.X)  # mean or geometric median: not a per-point parameter
        self.params = {
            "W_dec": torch.nn.Parameter(W_dec),
            "W_enc": torch.nn.Parameter(W_dec.clone()),
            "b_enc": torch.nn.Parameter(torch.zeros(len(estimators), n_latents, device=device)),
            "b_dec": torch.nn.Parameter(b_dec.expand(len(estimators), -1).clone()),
        }
        self.learning_rate = float(first.learning_rate)
        self.optimizer = torch.optim.Adam(self.params.values(), lr=first._lr_at(1))
        per_point = lambda name, default=0.0: torch.tensor(  # noqa: E731
            [float(getattr(e, name, default)) for e in estimators], device=device)
        self.k, self.l1_coef, self.auxk_coef = per_point("k", 1).long(), per_point("l1_coef"), per_point("auxk_coef")
        self.rho, self.beta, self.decay = map(per_point, ("sparsity_target", "sparsity_weight", "weight_decay"))
        self.unit_norm = bool(type(first)._unit_norm_atoms)
        self.since_fired = torch.zeros(len(estimators), n_latents, device=device)
        self.threshold, self.threshold_seen = torch.zeros(len(estimators), device=device), False
        self.batch_size = min(int(first.batch_size), n_samples)
        self.perm, self.cursor = None, n_samples
        self.good, self.good_weights = self._snapshot(), {}  # last logged state; last good state of diverged points
        self.diverged_at = [0] * len(estimators)  # the step at which each point diverged (0: it did not)
        self.histories: list[list[dict[str, Any]]] = [[] for _ in estimators]

    def _next_batch(self) -> torch.Tensor:
        n = self.X.shape[0]
        if self.cursor + self.batch_size > n:  # same epochs as BaseAutoencoder._next_batch
            self.perm = torch.randperm(n, generator=self.generator, device=self.X.device)
            self.cursor = 0
        index = self.perm[self.cursor:self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return self.X[index]

    def apply_live_updates(self, updates: dict[str, Any]) -> None:
        unknown = sorted(set(updates) - {"learning_rate"})
        if unknown:
            raise ValueError(f"{unknown} cannot change during a sweep; only learning_rate can.")
        self.learning_rate = float(updates["learning_rate"])
        for estimator in self.estimators:
            estimator.set_params(learning_rate=self.learning_rate)

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        if self.kind == "sae-l1":
            return torch.relu(pre)
        if self.kind == "sae-kl":
            return torch.sigmoid(pre)
        if self.kind == "sae-topk":
            return _top_k_per_row(pre, self.k)
        flat = torch.relu(pre).flatten(1)  # sae-batchtopk: the k x batch largest codes of each point's batch
        n_keep = torch.clamp(self.k * pre.shape[1], max=flat.shape[1])
        values, indices = flat.topk(int(n_keep.max()), dim=1)
        kept = values * (torch.arange(values.shape[1], device=pre.device) < n_keep[:, None])
        with torch.no_grad():
            smallest = torch.where(kept > 0, kept, torch.full_like(kept, math.inf)).min(1).values
            smallest = torch.where(torch.isinf(smallest), torch.zeros_like(smallest), smallest)
            momentum = 0.99 if self.threshold_seen else 0.0
            self.threshold.mul_(momentum).add_((1 - momentum) * smallest)
            self.threshold_seen = True
        return torch.zeros_like(flat).scatter(1, indices, kept).view_as(pre)

    def _extra_losses(self, codes, pre, x, x_hat) -> dict[str, torch.Tensor]:
        p = self.params
        if self.kind == "sae-l1":
            return {"l1": self.l1_coef * codes.abs().sum(2).mean(1)}
        if self.kind == "sae-kl":
            rho, rho_hat = self.rho[:, None], codes.mean(1).clamp(1e-6, 1 - 1e-6)
            kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
            decay = p["W_enc"].pow(2).sum((1, 2)) + p["W_dec"].pow(2).sum((1, 2))
            return {"kl": self.beta * kl.sum(1), "weight_decay": 0.5 * self.decay * decay}
        if not bool((self.auxk_coef > 0).any()):
            return {}
        first = self.estimators[0]
        dead = self.since_fired >= float(first.dead_window)
        masked = pre.masked_fill(~dead[:, None, :], -math.inf)
        size = first._auxk_size(*p["W_dec"].shape[1:])
        aux_codes = _top_k_per_row(masked, torch.full_like(self.k, size))
        residual = (x - x_hat).detach()
        scale = (residual - residual.mean(1, keepdim=True)).pow(2).mean((1, 2)).clamp_min(1e-12)
        auxk = (residual - torch.bmm(aux_codes, p["W_dec"])).pow(2).mean((1, 2)) / scale
        return {"auxk": self.auxk_coef * auxk * dead.any(1)}

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One Adam step for every point on one shared minibatch; returns per-point metrics of shape (S,)."""
        x = self._next_batch()
        warmup = int(getattr(self.estimators[0], "warmup_steps", 0) or 0)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate * (min(1.0, step / warmup) if warmup > 0 else 1.0)
        p = self.params
        pre = torch.baddbmm(p["b_enc"][:, None, :], x[None] - p["b_dec"][:, None, :], p["W_enc"].transpose(1, 2))
        codes = self._activate(pre)
        x_hat = torch.baddbmm(p["b_dec"][:, None, :], codes, p["W_dec"])
        mse = (x[None] - x_hat).pow(2).mean((1, 2))
        extras = self._extra_losses(codes, pre, x, x_hat)
        loss = mse + sum(extras.values()) if extras else mse
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()  # points share no parameters: each gets the gradient of its own loss
        with torch.no_grad():
            W = p["W_dec"]
            if self.unit_norm and W.grad is not None:
                W.grad -= (W.grad * W).sum(2, keepdim=True) * W
            self.optimizer.step()
            if self.unit_norm:
                W.div_(W.norm(dim=2, keepdim=True).clamp_min(1e-8))
            firing = codes > 0.5 if self.kind == "sae-kl" else codes != 0
            self.since_fired += codes.shape[1]
            self.since_fired.masked_fill_(firing.any(1), 0)  # in place, no host sync on a GPU
            metrics = {"loss": loss.detach(), "mse": mse.detach(), "l0": (codes != 0).float().sum(2).mean(1)}
            metrics.update({name: value.detach() for name, value in extras.items()})
            metrics["dead_fraction"] = (self.since_fired >= float(self.estimators[0].dead_window)).float().mean(1)
            if self.kind == "sae-kl":
                metrics["mean_activation"] = codes.mean((1, 2))
        return metrics

    def _snapshot(self) -> dict[str, torch.Tensor]:
        return {**{name: t.detach().clone() for name, t in self.params.items()}, "threshold": self.threshold.clone()}

    def log(self, step: int, metrics: dict[str, torch.Tensor]) -> list[dict[str, float] | None]:
        """Per-point rows for this step (None for points that diverged earlier); appended to histories."""
        names = list(metrics)
        values = torch.stack([metrics[n].float() for n in names], 1).cpu().tolist()  # one device sync
        rows: list[dict[str, float] | None] = []
        for s, point_values in enumerate(values):
            if self.diverged_at[s]:
                rows.append(None)
                continue
            row = dict(zip(names, point_values))
            if not all(math.isfinite(v) for v in point_values):
                self.diverged_at[s] = step
                self.good_weights[s] = {name: t[s].clone() for name, t in self.good.items()}
                rows.append(None)
                continue
            self.histories[s].append({"step": step, **row})
            rows.append(row)
        self.good = self._snapshot()
        return rows

    def fitted_estimator(self, s: int, steps_done: int):
        """Point ``s`` as its ``core.models`` estimator with the trained (or last good) weights set."""
        state = self.good_weights.get(s) or {**{n: t[s] for n, t in self.params.items()},
                                             "threshold": self.threshold[s]}
        to_np = lambda t: t.detach().float().cpu().numpy().copy()  # noqa: E731
        weights = {"components_": to_np(state["W_dec"]), "encoder_weight_": to_np(state["W_enc"]),
                   "encoder_bias_": to_np(state["b_enc"]), "decoder_bias_": to_np(state["b_dec"]),
                   "threshold_": to_np(state["threshold"]).reshape(1)}
        estimator = self.estimators[s]
        estimator.set_weights({name: weights[name] for name in type(estimator)._weight_names}, self.X.shape[1])
        estimator.history_ = self.histories[s]
        if self.diverged_at[s]:  # the last good weights are those of the last finite logged row
            steps_done = self.histories[s][-1]["step"] if self.histories[s] else 0
        estimator.n_steps_ = int(steps_done)
        return estimator


def _top_k_per_row(pre: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """ReLU of the k[s] largest entries of each row of pre[s] (pre: S x B x n, k: S); the rest are 0."""
    values, indices = pre.topk(int(k.max()), dim=2)
    keep = torch.arange(values.shape[2], device=pre.device) < k[:, None, None]
    return torch.zeros_like(pre).scatter(2, indices, torch.relu(values) * keep)
