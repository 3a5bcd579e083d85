"""The sparse-autoencoder family's shared base (Bricken et al. 2023, Gao et al. 2024 conventions).

    codes = f((x - b_dec) W_enc^T + b_enc)        x_hat = codes W_dec + b_dec,  ||W_dec[i]|| = 1

Shared by every SAE: decoder atoms kept at unit norm (the gradient component along each atom is removed
before the step, then rows are renormalised), decoder bias initialised at the data mean or geometric
median, encoder initialised as the decoder's transpose, Adam with a linear learning-rate warm-up, and a
count of samples since each latent last fired (a latent is dead when it has not fired in ``dead_window``).

Two switches every SAE takes (shared by a sweep's stack, not per point):

- ``non_negative``: atoms (decoder rows) are kept >= 0 (initialised as |random|, projected after each step);
  codes are >= 0 in every SAE anyway (ReLU, TopK of ReLU'd values, JumpReLU above a positive threshold,
  sigmoid). With both, a reconstruction is a sum of parts that only add up, as in NMF.
- ``decoder_bias``: False drops the learned decoder bias b_dec (and the centring by it), so the data is not
  centred: x_hat = codes W_dec. Without it a mean held in the bias cannot turn atoms into signed
  "pose A minus pose B" contrasts.

Active: a latent is active on a sample when ``_firing`` says so (non-zero codes; sigmoid codes: above one
half). L0 (active latents per sample) and the dead fraction (latents not active for ``dead_window``
samples) both count by this one rule.

``resample_dead``: a latent that has not fired for ``dead_window`` samples is revived (resampled, Anthropic's
recipe of Bricken et al. 2023): samples of the batch are drawn without replacement with probability
proportional to their squared reconstruction error, and each dead latent takes one: its atom becomes that
sample's residual x - x_hat (its positive part with non-negative atoms: the part the other atoms miss), unit
norm; its encoder row that direction at a fifth of the live rows' mean norm, its encoder bias 0, its Adam
moments 0. The draw is the Gumbel-top-k trick with noise seeded by the step, so a sweep's stack draws what
each model would draw alone. Without it (or TopK's AuxK) a latent that dies stays dead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.models.autoencoder import AutoencoderState, BaseAutoencoder, check_positive

DECODER_BIAS_INITS = ("mean", "median")


def geometric_median(X: torch.Tensor, n_iter: int = 50, eps: float = 1e-6) -> torch.Tensor:
    """The point minimising the sum of Euclidean distances to the rows of X (Weiszfeld's algorithm)."""
    median = X.mean(0)
    for _ in range(n_iter):
        weights = 1.0 / (X - median).norm(dim=1).clamp_min(eps)
        median = (weights[:, None] * X).sum(0) / weights.sum()
    return median


#: a revived latent's encoder row is its new direction times this fraction of the live rows' mean norm
#: (small, so that the new latent starts by firing on the samples it was made for, Bricken et al. 2023)
_REVIVED_ENCODER_SCALE = 0.2


def _draw_by_squared_error(residual: torch.Tensor, step: int) -> torch.Tensor:
    """The batch's sample indices in the order of a draw without replacement with probability proportional
    to ||residual||^2 (Gumbel-top-k: log weight + Gumbel noise, sorted). residual: (..., batch, d); the
    noise, (batch,), comes from a generator seeded by ``step`` and is shared by every model of a stack."""
    gen = torch.Generator(device=residual.device).manual_seed(int(step))
    uniform = torch.rand(residual.shape[-2], generator=gen, device=residual.device).clamp(1e-12, 1 - 1e-7)
    gumbel = -torch.log(-torch.log(uniform))
    keys = torch.log(residual.pow(2).sum(-1).clamp_min(1e-30)) + gumbel
    return keys.argsort(-1, descending=True)


def _project_off_atoms(grad: torch.Tensor, atoms: torch.Tensor) -> None:
    """grad -= (grad . atom) atom, row by row, in place, with one temporary the size of ``grad``."""
    product = torch.mul(grad, atoms)
    along = product.sum(-1, keepdim=True)
    grad.sub_(torch.mul(along, atoms, out=product))


@dataclass(slots=True)
class SAEState(AutoencoderState):
    since_fired: torch.Tensor | None = None  # samples seen since each latent last fired


class BaseSAE(BaseAutoencoder):
    """Shared machinery of sparse autoencoders; subclasses define the activation and the penalty."""

    _State = SAEState

    _center_with_decoder_bias = True
    _unit_norm_atoms = True
    #: a code above this counts as active (``_firing``); codes are >= 0 in every SAE
    activity_threshold = 0.0
    _live_params: tuple[str, ...] = ("learning_rate",)

    def _common_init(self, n_components, max_steps, batch_size, learning_rate, warmup_steps,
                     decoder_bias_init, dead_window, random_state, device, log_every, non_negative=False,
                     decoder_bias=True, resample_dead=False):
        self.n_components = n_components
        self.resample_dead = resample_dead
        self.non_negative = non_negative
        self.decoder_bias = decoder_bias
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.decoder_bias_init = decoder_bias_init
        self.dead_window = dead_window
        self.random_state = random_state
        self.device = device
        self.log_every = log_every

    # the switches of BaseAutoencoder, read from this estimator's own parameters
    @property
    def _non_negative_atoms(self) -> bool:
        return bool(getattr(self, "non_negative", False))

    @property
    def _has_decoder_bias(self) -> bool:
        return bool(getattr(self, "decoder_bias", True))

    @property
    def _center_with_decoder_bias(self) -> bool:
        return self._has_decoder_bias

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("non_negative", "decoder_bias", "resample_dead"):
            if not isinstance(getattr(self, name, False), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        check_positive("warmup_steps", self.warmup_steps, integer=True, allow_zero=True)
        check_positive("dead_window", self.dead_window, integer=True)
        if self.decoder_bias_init not in DECODER_BIAS_INITS:
            raise ValueError(f"decoder_bias_init must be one of {DECODER_BIAS_INITS}, "
                             f"got {self.decoder_bias_init!r}.")

    def _init_decoder_bias(self, X: torch.Tensor) -> torch.Tensor:
        if self.decoder_bias_init == "median":
            return geometric_median(X)
        return X.mean(0)

    def _setup_training(self, X: torch.Tensor, gen: torch.Generator, W_dec: torch.Tensor) -> None:
        super()._setup_training(X, gen, W_dec)
        if self._non_negative_atoms and not self._has_decoder_bias:
            self._scale_encoder_to_data(X)

    @torch.no_grad()
    def _scale_encoder_to_data(self, X: torch.Tensor) -> None:
        # With non-negative atoms and no decoder bias, the transposed-decoder encoder starts with every
        # code on, and the reconstruction overshoots the data many times over; the first steps then drive
        # the encoder biases so low that all codes die for good. Scale the encoder by the least-squares
        # factor that makes the first reconstruction the data's size (ReLU codes scale with it).
        p = self._weights_for_forward(self._t.params)
        x = X[: 4096]
        x_hat = self._activate(self._pre_activation(x, p)) @ p["W_dec"]
        # one factor per model (a stack of models gets one each: sums over each model's own batch)
        scale = (x * x_hat).sum((-2, -1), keepdim=True) / x_hat.pow(2).sum((-2, -1), keepdim=True).clamp_min(1e-12)
        if "W_enc" in self._t.params:  # tied weights share the decoder's scale, which stays unit-norm
            self._t.params["W_enc"].mul_(scale.clamp_min(1e-6))

    def _setup_extra(self, X: torch.Tensor) -> None:
        # samples seen since each latent last fired; starts at 0 so nothing is dead before the window
        self._t.since_fired = torch.zeros(self._t.params["W_dec"].shape[:-1], device=X.device)

    def _dead_mask(self) -> torch.Tensor:
        return self._t.since_fired >= self.dead_window

    def _firing(self, codes: torch.Tensor) -> torch.Tensor:
        """Which codes count as a latent firing: above ``activity_threshold`` (0: non-zero). The one rule of
        "active": L0 and the dead fraction count by it in training, ``core.metrics.evaluate`` after it."""
        return codes > self.activity_threshold if self.activity_threshold else codes != 0

    def _l0(self, codes) -> torch.Tensor:
        """Mean number of active codes per sample (``_firing``)."""
        return self._firing(codes).float().sum(-1).mean(-1)

    def _step_metrics(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        self._update_since_fired(self._firing(codes).any(-2), codes.shape[-2])
        return self._dead_fraction()

    def _dead_fraction(self) -> dict[str, torch.Tensor]:
        """{'dead_fraction': ...} at log steps; {} at the others (core.training does not read them)."""
        if not self._is_log_step(self._t.step):
            return {}
        return {"dead_fraction": self._dead_mask().float().mean(-1)}

    def _update_since_fired(self, fired: torch.Tensor, n_samples: int) -> None:
        # masked_fill_, not boolean indexing: indexing by a mask needs its count on the host (a sync)
        self._t.since_fired += n_samples
        self._t.since_fired.masked_fill_(fired, 0)

    @torch.no_grad()
    def _before_optimizer_step(self) -> None:
        # Remove the gradient component parallel to each (unit-norm) atom: a step then rotates atoms
        # instead of growing them, so renormalising afterwards loses little.
        W = self._t.params["W_dec"]
        if W.grad is None:
            return
        if W.is_cuda:  # one fused pass over the (large) decoder instead of two and a temporary
            W.grad.addcmul_((W.grad * W).sum(-1, keepdim=True), W, value=-1)
            return
        # The CPU keeps the exact arithmetic of earlier versions (same seed, same numbers), one model of a stack
        # at a time: its temporary then stays the size of one model's decoder (12.5 MB at 784 x 4096) where a
        # whole stack's (S times that) goes out to memory and is paged in afresh at every step (issue 21)
        W, grad = W.detach(), W.grad
        members = zip(W.view(-1, *W.shape[-2:]), grad.view(-1, *grad.shape[-2:])) \
            if W.dim() > 2 and W.is_contiguous() and grad.is_contiguous() else [(W, grad)]
        for atoms, member_grad in members:
            _project_off_atoms(member_grad, atoms)

    @torch.no_grad()
    def _after_step(self, x: torch.Tensor, x_hat: torch.Tensor) -> None:
        if self.resample_dead:
            self._revive_dead(x - x_hat)

    def _revive_dead(self, residual: torch.Tensor) -> None:
        """Give every dead latent a new atom from the batch's residuals (masked writes: no host sync)."""
        params = self._t.params
        W_dec = params["W_dec"]
        dead = self._dead_mask()  # (..., n_latents)
        wanted = residual.clamp_min(0) if self._non_negative_atoms else residual  # (..., batch, d)
        order = _draw_by_squared_error(wanted, self._t.step)  # the samples the dead latents take, in turn
        turn = (dead.long().cumsum(-1) - 1).clamp_min(0) % wanted.shape[-2]  # each dead latent's place in line
        chosen = order.gather(-1, turn)  # (..., n_latents): the sample each dead latent takes
        atoms = wanted.gather(-2, chosen.unsqueeze(-1).expand(*chosen.shape, wanted.shape[-1]))
        norms = atoms.norm(dim=-1)
        revive = dead & (norms > 1e-6)  # a residual of 0 has no direction to give
        atoms = atoms / norms.unsqueeze(-1).clamp_min(1e-12)
        rows = revive.unsqueeze(-1)
        W_dec.copy_(torch.where(rows, atoms, W_dec))
        masks = {"W_dec": rows}
        if "W_enc" in params:
            W_enc, live = params["W_enc"], (~dead).float()
            live_norm = (W_enc.norm(dim=-1) * live).sum(-1, keepdim=True) / live.sum(-1, keepdim=True).clamp_min(1)
            W_enc.copy_(torch.where(rows, atoms * (_REVIVED_ENCODER_SCALE * live_norm).unsqueeze(-1), W_enc))
            masks["W_enc"] = rows
        if "b_enc" in params:
            masks["b_enc"] = revive.view(params["b_enc"].shape)
            params["b_enc"].masked_fill_(masks["b_enc"], 0)
        for name, mask in masks.items():  # the revived rows start with fresh Adam moments
            state = self._t.optimizer.state.get(params[name], {})
            for moment in ("exp_avg", "exp_avg_sq"):
                if moment in state:
                    state[moment].masked_fill_(mask, 0)
        self._t.since_fired.masked_fill_(revive, 0)
