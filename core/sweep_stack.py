"""Many sparse autoencoders of one class and shape trained as one model (``core.sweep``'s batched groups).

Every weight gets a leading stack dimension; the step is the model class's own, written over the last two
dimensions, and Adam is element-wise with the losses summed, so each member follows the trajectory it would
follow alone (``tests/test_batched_equals_alone.py``).
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch

from core import models
from core.training import divergence, mean_square

#: parameters that may differ between the points of one batched group (n_components makes the groups)
PER_POINT_PARAMS = ("k", "l1_coef", "sparsity_target", "sparsity_weight", "weight_decay", "auxk_coef", "l0_coef",
                    "threshold_init", "n_components")


class BatchedSAEStack:
    """S sparse autoencoders of one class and shape, trained as one model with a leading stack dimension.

    ``estimators`` are unfitted ``core.models`` SAEs of one class that differ only in per-point parameters
    (``PER_POINT_PARAMS``). The training step is the class's own (``core.models.autoencoder``'s step is
    written over the last two dimensions): one stacked copy of the first estimator holds every weight as
    S x ..., the per-point parameters as (S,) tensors, and trains on the first point's minibatch stream.
    Each point's initial atoms come from its own estimator (its seed). A logged row whose loss is not
    finite, or exploded (``core.training.divergence``), stops that point alone, with the weights whose
    loss was last seen to be finite, as a run alone would.
    """

    def __init__(self, estimators: list[Any], X: np.ndarray):
        first = estimators[0]
        kind = models.name_of(first)
        if not models.family(kind).batchable or any(type(e) is not type(first) for e in estimators):
            raise ValueError(f"BatchedSAEStack trains one of {models.batchable()}, all alike; got {kind!r}.")
        self.estimators = estimators
        X = first._tensor(np.ascontiguousarray(X, dtype=np.float32))
        n_samples, n_features = X.shape
        for estimator in estimators:
            estimator._check_params()
            estimator._n_latents(n_features)  # validates k <= n_components
        n_latents = first._n_latents(n_features)
        generators = [estimator._generator() for estimator in estimators]
        W_dec = torch.stack([estimator._init_atoms(n_latents, n_features, generator, X.device)
                             for estimator, generator in zip(estimators, generators)])
        self.model = copy.copy(first)  # its class and shared parameters; per-point ones become tensors
        for name in PER_POINT_PARAMS:
            values = [getattr(e, name) for e in estimators if hasattr(e, name)]
            if len(values) == len(estimators) and len(set(values)) > 1:  # equal values stay plain numbers
                dtype = torch.long if name == "k" else torch.float32
                setattr(self.model, name, torch.tensor(values, dtype=dtype, device=X.device))
        # minibatches continue the first point's generator after its initial atoms, as its run alone does
        self.model._setup_training(X, generators[0], W_dec)
        self.model._training = True
        self.scale = mean_square(X.cpu().numpy())
        self.good, self.good_step = self._copy_state(), [0] * len(estimators)
        self.staged: dict[str, torch.Tensor] | None = None
        self.diverged_at = [0] * len(estimators)  # the step at which each point diverged (0: it did not)
        self.histories: list[list[dict[str, Any]]] = [[] for _ in estimators]
        self.started = time.perf_counter()  # histories log each point's share of the stack's time
        self.finished = False

    @property
    def params(self) -> dict[str, torch.Tensor]:
        """The stacked weights (S x ...), by the class's own names (W_dec, W_enc, b_enc, b_dec, ...)."""
        return self.model._t.params

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.model._t.optimizer

    def _copy_state(self) -> dict[str, torch.Tensor]:
        return {name: t.detach().clone() for name, t in self.model._state().items()}

    def apply_live_updates(self, updates: dict[str, Any]) -> None:
        unknown = sorted(set(updates) - {"learning_rate"})
        if unknown:
            raise ValueError(f"{unknown} cannot change during a sweep; only learning_rate can.")
        for estimator in (self.model, *self.estimators):
            estimator.set_params(learning_rate=float(updates["learning_rate"]))

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One step of every point on one shared minibatch; returns per-point metrics of shape (S,) (at
        logged steps, ``core.training.is_log_step``, also L0, the penalties and the dead fraction)."""
        if self.model._is_log_step(step):  # this step's loss is that of the weights as they are now
            self.staged = self._copy_state()
        return self.model._train_step(step)

    def log(self, step: int, metrics: dict[str, torch.Tensor]) -> list[dict[str, float] | None]:
        """Per-point rows for a logged step (None for points that diverged, now or earlier); appended to
        the histories. A point whose row is finite trusts the weights staged before this step."""
        n = len(self.estimators)
        names = list(metrics)
        values = torch.stack([metrics[name].float().expand(n) for name in names], 1).cpu().tolist()  # one sync
        rows: list[dict[str, float] | None] = []
        for s, point_values in enumerate(values):
            row = dict(zip(names, point_values))
            if self.diverged_at[s] or divergence(row, self.scale):
                self.diverged_at[s] = self.diverged_at[s] or step
                rows.append(None)
                continue
            if self.staged is not None:
                for name, tensor in self.good.items():
                    tensor[s] = self.staged[name][s]
                self.good_step[s] = step - 1
            self.histories[s].append({"step": step, **row, "seconds": (time.perf_counter() - self.started) / n})
            rows.append(row)
        return rows

    def member_weights(self, s: int) -> dict[str, np.ndarray]:
        """Point ``s``'s fitted arrays (``set_weights``' form) from the stacked ones ``_finish`` last wrote."""
        weights = {}
        for name in type(self.estimators[s])._weight_names:
            stacked = getattr(self.model, name)[s]
            weights[name] = stacked if name in ("components_", "encoder_weight_") else stacked.reshape(-1)
        return weights

    def fitted_estimator(self, s: int, steps_done: int):
        """Point ``s``, once training is over, as its ``core.models`` estimator with the trained (or, if it
        diverged, last good) weights set."""
        if not self.finished:  # diverged points get their last good weights back, then all are read out once
            with torch.no_grad():
                for name, tensor in self.model._state().items():
                    for diverged in (i for i, at in enumerate(self.diverged_at) if at):
                        tensor[diverged] = self.good[name][diverged]
            self.model._finish()  # the stacked fitted arrays: S x ...
            self.finished = True
        if self.diverged_at[s]:
            steps_done = self.good_step[s]
        estimator = self.estimators[s]
        estimator.set_weights(self.member_weights(s), self.model._t.X.shape[1])
        estimator.history_ = self.histories[s]
        estimator.n_steps_ = int(steps_done)
        return estimator
