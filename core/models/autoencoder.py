"""The autoencoder family's shared base: parameters, minibatch Adam training, encode/decode.

A one-hidden-layer autoencoder with atoms as rows:

    codes = f((x - b_pre) W_enc^T + b_enc)        x_hat = codes W_dec + b_dec

``components_`` is W_dec (n_components x n_features). Subclasses choose the activation ``f`` (``_activate``)
and add terms to the loss (``_extra_loss``); the sparse family (``core.models.sae``) adds unit-norm atoms.

Speed (see ``bench/``): a training step makes no host sync (metrics stay on the device and are read by
``core.training`` only at log steps, the only steps where extras such as L0 are computed), Adam is fused,
the last good weights are copied into buffers kept for the run, and a model with a ``precision``
parameter trains with TF32 matmuls (``matmul_precision``) or bf16 (``autocast``) on the GPU.

Stacks: the training step is written over the last two dimensions only, so the same code trains S models
of one shape at once (``core.sweep.BatchedSAEStack``): the weights then carry a leading stack dimension
(W_dec: S x n_latents x n_features, biases S x 1 x n), the per-model hyperparameters are (S,) tensors
(read through ``hyper``), and every loss and metric has shape (S,) instead of ().
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from core.models.base import IterativeEstimator, TrainingState
from core.models.precision import autocast, matmul_precision, resolve_precision
from core.training import is_log_step, log_every_of

#: values of ``optimizer``: Adam on minibatches, plain SGD (no momentum) as Refinetti & Goldt train, or
#: full-batch L-BFGS as CS294A does (one L-BFGS iteration with a strong-Wolfe line search per step; the line
#: search sets the step length, so ``learning_rate`` is not used)
OPTIMIZERS = ("adam", "sgd", "lbfgs")


def hyper(value, trailing: int = 0):
    """A hyperparameter as the training step uses it: a number as a float; in a stack of S models
    (``core.sweep``) its (S,) tensor of per-model values, shaped (S, 1, ..., 1) with ``trailing`` ones so that
    it broadcasts against per-model tensors with that many dimensions after the stack's."""
    if isinstance(value, torch.Tensor):
        return value.view(-1, *([1] * trailing))
    return float(value)


@dataclass(slots=True)
class AutoencoderState(TrainingState):
    """An autoencoder's fit: its weights and Adam, the minibatch stream, and how it steps."""

    gen: torch.Generator | None = None  # the model's own RNG: initial atoms, then minibatches
    perm: torch.Tensor | None = None  # this epoch's order of the samples
    cursor: int = 0  # where the next minibatch starts in ``perm``
    params: dict[str, torch.Tensor] = field(default_factory=dict)  # W_dec, W_enc, b_enc, b_dec (what exists)
    optimizer: Any = None
    precision: str = "fp32"  # resolved: 'fp32', 'tf32' or 'bf16'
    rows: int = 0  # minibatch size
    log_every: int = 10
    last_step: int = 0


class BaseAutoencoder(IterativeEstimator):
    """Shared machinery of every autoencoder; not registered itself.

    Objective: mean over samples and features of (x - x_hat)^2, plus each subclass's penalty,
    minimised with Adam on random minibatches (an epoch is one pass over a fresh permutation).
    """

    _weight_names = ("components_", "encoder_weight_", "encoder_bias_", "decoder_bias_")
    _live_params: tuple[str, ...] = ("learning_rate",)
    #: subtract the decoder bias before encoding (SAE convention, Bricken et al. / Gao et al.)
    _center_with_decoder_bias = False
    #: the sparse family keeps decoder rows at unit norm
    _unit_norm_atoms = False
    #: NNSAE has none: its reconstructions are sums of non-negative parts, as in NMF
    _has_decoder_bias = True
    #: NNSAE: project decoder weights onto the non-negative orthant after each step
    _non_negative_atoms = False
    #: True for models whose forward casts to the compute dtype itself (no bf16 autocast around it)
    _explicit_casts = False
    #: the family's training state (``TrainingState``)
    _State = AutoencoderState

    # ---- things subclasses override -----------------------------------------------------------
    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        """The code non-linearity f applied to pre-activations."""
        raise NotImplementedError

    def _extra_loss(self, codes: torch.Tensor, pre: torch.Tensor, x: torch.Tensor, x_hat: torch.Tensor):
        """Penalty terms added to the reconstruction MSE: a dict name -> scalar tensor."""
        return {}

    def _corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's input during training (denoising autoencoders corrupt it)."""
        return x

    def _init_decoder_bias(self, X: torch.Tensor) -> torch.Tensor:
        return X.mean(0)

    # ---- parameters shared by the family ---------------------------------------------------------
    def _uses_bias(self) -> bool:
        return bool(getattr(self, "bias", True))

    def _is_tied(self) -> bool:
        return bool(getattr(self, "tied", False))

    def _n_latents(self, n_features: int) -> int:
        n = self.n_components if self.n_components is not None else n_features
        if int(n) < 1:
            raise ValueError(f"n_components must be at least 1, got {n}.")
        return int(n)

    # ---- training hooks (called by core.training) ----------------------------------------------
    def _check_params(self) -> None:
        check_positive("max_steps", self.max_steps, integer=True)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("learning_rate", self.learning_rate)
        check_positive("log_every", self.log_every, integer=True)
        if getattr(self, "optimizer", "adam") not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        check_positive("init_scale", getattr(self, "init_scale", 1.0))

    def _setup(self, X: torch.Tensor) -> None:
        self._check_params()
        n_samples, n_features = X.shape
        n_latents = self._n_latents(n_features)
        gen = self._generator()
        self._setup_training(X, gen, self._init_atoms(n_latents, n_features, gen, X.device))

    def _setup_training(self, X: torch.Tensor, gen: torch.Generator, W_dec: torch.Tensor) -> None:
        """The training state from the initial atoms ``W_dec`` (n_latents x n_features, or S x n_latents x
        n_features for a stack of S models, see the module docstring); minibatches are drawn with ``gen``."""
        n_samples = X.shape[0]
        *stack, n_latents, n_features = W_dec.shape
        bias_shape = (*stack, 1) if stack else ()  # a stack's biases broadcast over its batch dimension
        dev = X.device
        self._t = self._State(X=X)
        self._t.X, self._t.gen = X, gen
        self._t.perm, self._t.cursor = None, n_samples
        params = {"W_dec": torch.nn.Parameter(W_dec)}
        if not self._is_tied():
            params["W_enc"] = torch.nn.Parameter(W_dec.clone())
        if self._uses_bias():
            params["b_enc"] = torch.nn.Parameter(torch.zeros(*bias_shape, n_latents, device=dev))
            if self._has_decoder_bias:
                b_dec = self._init_decoder_bias(X)
                params["b_dec"] = torch.nn.Parameter(b_dec.expand(*bias_shape, n_features).clone())
        self._t.params = params
        if getattr(self, "optimizer", "adam") == "lbfgs":
            if W_dec.dim() > 2:
                raise ValueError("optimizer='lbfgs' cannot train a stack of models: its line search would tie "
                                 "them together. Sweep with optimizer='adam', or train the points one by one.")
            self._t.optimizer = torch.optim.LBFGS(params.values(), lr=1.0, max_iter=1, history_size=50,
                                                  line_search_fn="strong_wolfe")
        elif getattr(self, "optimizer", "adam") == "sgd":  # plain SGD, as Refinetti & Goldt train
            self._t.optimizer = torch.optim.SGD(params.values(), lr=self._lr_at(1))
        else:
            # Fused Adam: one kernel per parameter instead of a dozen (on the CPU too: 2.5x faster there, and
            # within float rounding, ~1e-7 after 200 steps, of the unfused update)
            self._t.optimizer = torch.optim.Adam(params.values(), lr=self._lr_at(1), fused=True)
        self._t.precision = resolve_precision(getattr(self, "precision", "fp32"), dev)
        self._t.rows = min(int(self.batch_size), n_samples)
        self._t.log_every = log_every_of(self)
        self._t.last_step = int(self._total_steps())
        self._setup_extra(X)

    def _init_atoms(self, n_latents, n_features, gen, dev) -> torch.Tensor:
        # Random directions scaled so that a pre-activation w.x/sqrt(D) starts O(1), as in Refinetti & Goldt.
        W = torch.randn(n_latents, n_features, generator=gen, device=dev)
        if self._non_negative_atoms:
            W = W.abs()
        if self._unit_norm_atoms:
            return W / W.norm(dim=1, keepdim=True).clamp_min(1e-8)
        scale = float(getattr(self, "init_scale", 1.0))
        # with the 1/sqrt(D) in the pre-activation the entries themselves are O(init_scale), as in the paper
        return W * scale if self._scales_by_sqrt_d() else W * scale / math.sqrt(n_features)

    def _scales_by_sqrt_d(self) -> bool:
        return bool(getattr(self, "sqrt_d_scaling", False))

    def _setup_extra(self, X: torch.Tensor) -> None:
        """Hook for subclasses' own training state (dead-latent counters, thresholds)."""

    def _lr_at(self, step: int) -> float:
        warmup = int(getattr(self, "warmup_steps", 0) or 0)
        scale = min(1.0, step / warmup) if warmup > 0 else 1.0
        return float(self.learning_rate) * scale

    def _next_batch(self) -> torch.Tensor:
        n = self._t.X.shape[0]
        size = min(int(self.batch_size), n)
        if self._t.cursor + size > n:  # new epoch: a fresh permutation, drawn on the model's own RNG
            self._t.perm = torch.randperm(n, generator=self._t.gen, device=self._t.X.device)
            self._t.cursor = 0
        idx = self._t.perm[self._t.cursor:self._t.cursor + size]
        self._t.cursor += size
        return self._t.X.index_select(0, idx)  # = X[idx], several times faster on the CPU

    def _is_log_step(self, step: int) -> bool:
        """Whether ``core.training`` logs this step (it reads the metrics of no other step)."""
        return is_log_step(step, self._t.log_every, self._t.last_step)

    def _reconstruction_loss(self, mse: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction term of the objective from the per-entry MSE (KL SAE: CS294A's scale)."""
        return mse

    def _lbfgs_step(self, step: int) -> dict[str, torch.Tensor]:
        """One full-batch L-BFGS iteration; its metrics are those of the whole data at the new weights."""
        x, self._t.step = self._t.X, step

        def objective():
            self._t.optimizer.zero_grad(set_to_none=True)
            x_hat, codes, pre = self._forward(x, self._weights_for_forward(self._t.params))
            extras = self._extra_loss(codes, pre, x, x_hat)
            loss = self._reconstruction_loss((x - x_hat).pow(2).mean((-2, -1)), x) + sum(extras.values())
            loss.backward()
            return loss

        loss_before = self._t.optimizer.step(objective)
        self._after_optimizer_step()
        with torch.no_grad():
            x_hat, codes, pre = self._forward(x, self._weights_for_forward(self._t.params))
            mse = (x - x_hat).pow(2).mean((-2, -1))
            extras = self._extra_loss(codes, pre, x, x_hat)
            loss = self._reconstruction_loss(mse, x) + sum(extras.values())
            if not loss < loss_before:
                # The line search found no step down along L-BFGS's direction (its curvature history no
                # longer fits the objective); with that history kept, every later step would fail the same
                # way. Forgetting it restarts from steepest descent.
                self._t.optimizer.state.clear()
            metrics = {"loss": loss, "mse": mse, **self._step_metrics(codes)}
            if self._is_log_step(step):
                metrics.update(l0=self._l0(codes), **extras)
        return metrics

    def _train_step(self, step: int) -> dict[str, torch.Tensor]:
        if isinstance(self._t.optimizer, torch.optim.LBFGS):
            return self._lbfgs_step(step)
        x = self._next_batch()
        lr = self._lr_at(step)
        for group in self._t.optimizer.param_groups:
            group["lr"] = lr
        self._t.step = step
        with matmul_precision(self._t.precision, x.device):
            with autocast("fp32" if self._explicit_casts else self._t.precision, x.device):
                p = self._weights_for_forward(self._t.params)
                x_hat, codes, pre = self._forward(x, p)
                mse = (x - x_hat).pow(2).mean((-2, -1))
                extras = self._extra_loss(codes, pre, x, x_hat)
                recon = self._reconstruction_loss(mse, x)
                loss = recon + sum(extras.values()) if extras else recon
            self._t.optimizer.zero_grad(set_to_none=True)
            # a stack's models share no weights: the sum gives each the gradient of its own loss
            (loss.sum() if loss.dim() else loss).backward()
            self._before_optimizer_step()
            self._t.optimizer.step()
            self._after_optimizer_step()
            self._after_step(x, x_hat.detach())
        with torch.no_grad():
            step_metrics = self._step_metrics(codes)  # every step: it keeps the dead-latent counters
            metrics = {"loss": loss.detach(), "mse": mse.detach()}
            if not self._is_log_step(step):  # core.training reads only loss and mse here, if anything
                return metrics
            metrics["l0"] = self._l0(codes)
            metrics.update({name: value.detach() for name, value in extras.items()})
            metrics.update(step_metrics)
        return metrics

    def _forward(self, x: torch.Tensor, p: dict[str, torch.Tensor]):
        """(x_hat, codes, pre-activations) of a training batch."""
        pre = self._pre_activation(self._corrupt(x), p)
        codes = self._activate(pre)
        x_hat = codes @ p["W_dec"] + p["b_dec"]
        return x_hat, codes, pre

    def _l0(self, codes) -> torch.Tensor:
        """Mean number of non-zero codes per sample (a 0-d tensor)."""
        return (codes != 0).float().sum(-1).mean(-1)

    def _step_metrics(self, codes) -> dict[str, torch.Tensor]:
        return {}

    def _before_optimizer_step(self) -> None:
        """Hook: adjust gradients (the sparse family removes the part along each atom)."""

    @torch.no_grad()
    def _after_optimizer_step(self) -> None:
        W = self._t.params["W_dec"]
        if self._non_negative_atoms:
            W.clamp_(min=0)
        if self._unit_norm_atoms:
            W.div_(W.norm(dim=-1, keepdim=True).clamp_min(1e-8))

    def _after_step(self, x: torch.Tensor, x_hat: torch.Tensor) -> None:
        """Hook after the optimiser step, given the batch and its reconstruction (the sparse family revives
        dead latents here)."""

    def _state(self) -> dict[str, torch.Tensor]:
        return dict(self._t.params)

    def _current_components(self) -> torch.Tensor:
        return self._t.params["W_dec"].detach()

    def _finish(self) -> None:
        p = self._weights_for_forward(self._t.params)
        to_np = lambda t: t.detach().float().cpu().numpy().copy()  # noqa: E731
        self.components_ = to_np(p["W_dec"])
        self.encoder_weight_ = to_np(p["W_enc"])
        self.encoder_bias_ = to_np(p["b_enc"])
        self.decoder_bias_ = to_np(p["b_dec"])
        self._finish_extra()

    def _finish_extra(self) -> None:
        """Hook: write subclass-specific fitted arrays."""

    # ---- forward pass, shared by training and transform ---------------------------------------
    def _weights_for_forward(self, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Fill in tied encoder weights and absent (zero) biases."""
        W_dec = params["W_dec"]
        stack = (*W_dec.shape[:-2], 1) if W_dec.dim() > 2 else ()
        zeros = lambda n: torch.zeros(*stack, n, device=W_dec.device)  # noqa: E731
        return {
            "W_dec": W_dec,
            "W_enc": params.get("W_enc", W_dec),
            # zeros only when absent: a step should not launch kernels whose result it throws away
            "b_enc": params["b_enc"] if "b_enc" in params else zeros(W_dec.shape[-2]),
            "b_dec": params["b_dec"] if "b_dec" in params else zeros(W_dec.shape[-1]),
        }

    def _pre_activation(self, x: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        if self._center_with_decoder_bias:
            x = x - p["b_dec"]
        if self._scales_by_sqrt_d():  # Refinetti & Goldt: lambda = w.x / sqrt(D)
            return x @ p["W_enc"].mT / math.sqrt(x.shape[-1]) + p["b_enc"]
        return x @ p["W_enc"].mT + p["b_enc"]

    def _fitted_tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        names = {"W_dec": "components_", "W_enc": "encoder_weight_", "b_enc": "encoder_bias_",
                 "b_dec": "decoder_bias_"}
        return {key: torch.as_tensor(getattr(self, attr), device=device) for key, attr in names.items()}

    def _inference_activate(self, pre: torch.Tensor) -> torch.Tensor:
        """The activation used by transform(); batch-dependent codes (BatchTopK) override it."""
        return self._activate(pre)

    def _encode(self, X: torch.Tensor) -> torch.Tensor:
        p = self._fitted_tensors(X.device)
        return self._inference_activate(self._pre_activation(X, p))

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        p = self._fitted_tensors(codes.device)
        return codes @ p["W_dec"] + p["b_dec"]


def activation_function(name: str):
    """The element-wise activations of the Refinetti & Goldt grid."""
    functions = {
        "linear": lambda z: z,
        "sigmoid": torch.sigmoid,
        "relu": torch.relu,
        # erf(z / sqrt 2): the odd 'sigmoidal' activation the paper analyses
        "erf": lambda z: torch.erf(z / math.sqrt(2.0)),
        "tanh": torch.tanh,
    }
    if name not in functions:
        raise ValueError(f"Unknown activation {name!r}; choose one of {', '.join(functions)}.")
    return functions[name]


def check_positive(name: str, value, integer: bool = False, allow_zero: bool = False) -> None:
    """Parameter validation with a message that names the parameter and the fix."""
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if not ok or isinstance(value, bool) or (value < 0 if allow_zero else value <= 0) or not np.isfinite(value):
        kind = "an integer" if integer else "a number"
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {kind} {bound}, got {value!r}.")
