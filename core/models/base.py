"""Shared plumbing for every model: validation, device, seeding, the iterative-fit hooks, weights I/O.

Every model is a scikit-learn estimator: ``fit``, ``transform`` (codes), ``inverse_transform``
(reconstructions) and ``components_`` (atoms, n_components x n_features, in input space).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from core.device import resolve_device
from core.training import TrainControl, train_steps


class TorchEstimator(TransformerMixin, BaseEstimator):
    """Base of all models: input validation, the torch device, and weights as named numpy arrays.

    Subclasses list the fitted arrays that define them in ``_weight_names`` (``components_`` first);
    ``get_weights``/``set_weights`` then give save and load for free (see ``core.checkpoint``).
    """

    _weight_names: tuple[str, ...] = ("components_",)
    #: parameters a running fit accepts through ``TrainControl.update`` (the UI's live knobs)
    _live_params: tuple[str, ...] = ()
    #: True when the model needs non-negative input (NMF, NNSAE)
    _requires_non_negative: bool = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self._requires_non_negative
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # -- input ---------------------------------------------------------------------------------
    def _validate(self, X, reset: bool) -> np.ndarray:
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=reset, ensure_min_samples=1)
        if self._requires_non_negative and X.size and X.min() < 0:
            raise ValueError(
                f"Negative values in data passed to {type(self).__name__} (smallest {X.min():.4g}): it needs "
                "non-negative data. Scale the data to [0, 1] (scale='minmax') or pick a model for signed data."
            )
        return np.asarray(X, dtype=np.float32)

    def _device(self) -> torch.device:
        return resolve_device(self.device)

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=self._device())

    def _generator(self) -> torch.Generator:
        """A private RNG on the model's device: same seed, same run, whatever else uses torch."""
        seed = self.random_state
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        elif isinstance(seed, np.random.RandomState):
            seed = int(seed.randint(0, 2**31 - 1))
        gen = torch.Generator(device=self._device())
        gen.manual_seed(int(seed))
        return gen

    def check_params(self, n_features: int) -> None:
        """Raise the ValueError that ``fit`` would raise for these parameters on data of ``n_features``
        features, without training: a UI can refuse a bad run at once instead of when it starts."""
        check = getattr(self, "_check_params", None)
        if check is not None:
            check()
        n_latents = getattr(self, "_n_latents", None)
        if n_latents is not None:
            n_latents(int(n_features))

    # -- the transformer API -------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Codes of ``X``: an array of shape (n_samples, n_components)."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        with torch.no_grad():
            codes = self._encode(self._tensor(X))
        return codes.float().cpu().numpy()

    def inverse_transform(self, codes) -> np.ndarray:
        """Reconstructions from codes: an array of shape (n_samples, n_features)."""
        check_is_fitted(self)
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.components_.shape[0]:
            raise ValueError(
                f"Codes must have shape (n_samples, {self.components_.shape[0]}), got {codes.shape}. "
                "Pass the output of transform()."
            )
        with torch.no_grad():
            recon = self._decode(self._tensor(codes))
        return recon.float().cpu().numpy()

    def reconstruct(self, X) -> np.ndarray:
        """``inverse_transform(transform(X))``, without leaving the device in between."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        with torch.no_grad():
            recon = self._decode(self._encode(self._tensor(X)))
        return recon.float().cpu().numpy()

    def _encode(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- weights ---------------------------------------------------------------------------------
    def get_weights(self) -> dict[str, np.ndarray]:
        check_is_fitted(self)
        return {name: np.ascontiguousarray(getattr(self, name), dtype=np.float32) for name in self._weight_names}

    def set_weights(self, weights: dict[str, np.ndarray], n_features: int) -> "TorchEstimator":
        missing = [n for n in self._weight_names if n not in weights]
        if missing:
            raise ValueError(f"The weights lack {missing}; they were not saved from a {type(self).__name__}.")
        for name in self._weight_names:
            setattr(self, name, np.asarray(weights[name], dtype=np.float32))
        self.n_features_in_ = int(n_features)
        if not hasattr(self, "history_"):
            self.history_ = []
        return self


@dataclass(slots=True)
class TrainingState:
    """What a fit keeps between two steps and drops when it ends: the data on the device, the step, and the
    last good weights (core.training restores them when a run diverges). Each model family extends it with
    its own fields (optimiser, minibatch cursor, dead-latent counters, NMF's H, ...), declared there: a
    typo is an error, not a new attribute.

    ``IterativeEstimator._setup`` makes it (``self._t``), the steps read and change it, ``_teardown``
    drops it; it is never pickled. The estimator itself keeps only its parameters and fitted attributes.
    """

    X: Any
    step: int = 0
    converged: bool = False  # a model that converged (NMF's tol): core.training stops after this step's row
    good_step: int = 0  # the step whose weights ``good`` holds
    good: dict | None = None
    staged: tuple | None = None  # (step, weights) waiting for their logged loss to be seen finite
    spare: dict | None = None  # buffers reused for the next staged copy


class IterativeEstimator(TorchEstimator):
    """A model trained step by step by ``core.training.train_steps``.

    Subclasses implement the hooks ``_setup(X)`` (make the training state ``self._t``, a ``TrainingState``
    of the family, from a float32 tensor),
    ``_train_step(step) -> dict of 0-d tensors`` (at least ``loss`` and ``mse``), ``_state()`` (the
    tensors that define the model, returned by reference) and ``_finish()`` (write fitted numpy
    attributes from the state). ``fit_iter`` yields metric rows for a live view.
    """

    log_every: int = 10
    _t: TrainingState | None = None  # the training state, only while a fit runs

    def fit(self, X, y=None):
        for _ in self.fit_iter(X):
            pass
        return self

    def fit_iter(self, X, control: TrainControl | None = None) -> Iterator[dict[str, Any]]:
        """Train on ``X``, yielding a metrics row every ``log_every`` steps; see ``core.training``."""
        return train_steps(self, X, control)

    def _total_steps(self) -> int:
        return self.max_steps

    # hooks called by core.training ---------------------------------------------------------------
    def _begin_fit(self, X) -> None:
        X = self._validate(X, reset=True)
        self.history_ = []
        self._setup(self._tensor(X))
        self._training = True
        self._stage_good_state(0)
        self._commit_good_state()

    def _stage_good_state(self, step: int) -> None:
        """Copy the weights as they are before ``step + 1``: the loss logged at step + 1 is theirs, so
        they are trusted (committed) only once that loss is seen to be finite."""
        state = self._state()
        spare = self._t.spare
        if spare is None or spare.keys() != state.keys() or any(
                spare[k].shape != v.shape or spare[k].dtype != v.dtype for k, v in state.items()):
            spare = {k: v.detach().clone() for k, v in state.items()}
        else:  # reuse the previous good copy's buffers: two copies of the weights, no allocation per log
            with torch.no_grad():
                for name, tensor in state.items():
                    spare[name].copy_(tensor.detach())
        self._t.staged = (step, spare)

    def _commit_good_state(self) -> None:
        t = self._t
        previous = t.good
        t.good_step, t.good = t.staged
        t.spare = previous if previous is not t.good else None

    def _restore_good_state(self) -> None:
        with torch.no_grad():
            for name, tensor in self._state().items():
                tensor.copy_(self._t.good[name])

    def _end_fit(self, steps_done: int) -> None:
        self.n_steps_ = int(steps_done)
        self._finish()
        self._teardown()

    def _apply_live_updates(self, updates: dict[str, Any]) -> dict[str, Any]:
        """Set live parameters between steps; returns what was applied (unknown names are refused)."""
        unknown = sorted(set(updates) - set(self._live_params))
        if unknown:
            raise ValueError(f"{unknown} cannot change during a run of {type(self).__name__}; "
                             f"live parameters are {list(self._live_params)}.")
        applied = {k: v for k, v in updates.items() if getattr(self, k) != v}
        if applied:
            self.set_params(**applied)
            self._on_live_update(applied)
        return applied

    def _on_live_update(self, applied: dict[str, Any]) -> None:
        """Hook: push changed parameters into the training state (e.g. the optimiser's learning rate)."""

    def current_components(self) -> np.ndarray:
        """The atoms as they are now, during a fit (for a live view), else ``components_``."""
        if getattr(self, "_training", False):
            with torch.no_grad():
                return self._current_components().float().cpu().numpy()
        check_is_fitted(self)
        return self.components_

    def _teardown(self) -> None:
        """Drop training-only state (optimiser, data on the device) once the fit ends."""
        self._t = None
        self._training = False

    # subclass hooks -----------------------------------------------------------------------------
    def _setup(self, X: torch.Tensor) -> None:
        raise NotImplementedError

    def _train_step(self, step: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _state(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _current_components(self) -> torch.Tensor:
        raise NotImplementedError

    def __getstate__(self):
        state = super().__getstate__()
        return {k: v for k, v in state.items() if k != "_t"}

