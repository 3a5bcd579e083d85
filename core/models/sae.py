"""The sparse-autoencoder family's shared base (Bricken et al. 2023, Gao et al. 2024 conventions).

    codes = f((x - b_dec) W_enc^T + b_enc)        x_hat = codes W_dec + b_dec,  ||W_dec[i]|| = 1

Shared by every SAE: decoder atoms kept at unit norm (the gradient component along each atom is removed
before the step, then rows are renormalised), decoder bias initialised at the data mean or geometric
median, encoder initialised as the decoder's transpose, Adam with a linear learning-rate warm-up, and a
count of samples since each latent last fired (a latent is dead when it has not fired in ``dead_window``).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(slots=True)
class SAEState(AutoencoderState):
    since_fired: torch.Tensor | None = None  # samples seen since each latent last fired


class BaseSAE(BaseAutoencoder):
    """Shared machinery of sparse autoencoders; subclasses define the activation and the penalty."""

    _State = SAEState

    _center_with_decoder_bias = True
    _unit_norm_atoms = True
    _live_params: tuple[str, ...] = ("learning_rate",)

    def _common_init(self, n_components, max_steps, batch_size, learning_rate, warmup_steps,
                     decoder_bias_init, dead_window, random_state, device, log_every):
        self.n_components = n_components
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.decoder_bias_init = decoder_bias_init
        self.dead_window = dead_window
        self.random_state = random_state
        self.device = device
        self.log_every = log_every

    def _check_params(self) -> None:
        super()._check_params()
        check_positive("warmup_steps", self.warmup_steps, integer=True, allow_zero=True)
        check_positive("dead_window", self.dead_window, integer=True)
        if self.decoder_bias_init not in DECODER_BIAS_INITS:
            raise ValueError(f"decoder_bias_init must be one of {DECODER_BIAS_INITS}, "
                             f"got {self.decoder_bias_init!r}.")

    def _init_decoder_bias(self, X: torch.Tensor) -> torch.Tensor:
        if self.decoder_bias_init == "median":
            return geometric_median(X)
        return X.mean(0)

    def _setup_extra(self, X: torch.Tensor) -> None:
        # samples seen since each latent last fired; starts at 0 so nothing is dead before the window
        self._t.since_fired = torch.zeros(self._t.params["W_dec"].shape[:-1], device=X.device)

    def _dead_mask(self) -> torch.Tensor:
        return self._t.since_fired >= self.dead_window

    def _firing(self, codes: torch.Tensor) -> torch.Tensor:
        """Which codes count as a latent firing (non-zero; sigmoid codes override this)."""
        return codes != 0

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
        along = (W.grad * W).sum(-1, keepdim=True)
        if W.is_cuda:  # one fused pass over the (large) decoder instead of two and a temporary
            W.grad.addcmul_(along, W, value=-1)
        else:  # the CPU keeps the exact arithmetic of earlier versions (same seed, same numbers)
            W.grad -= along * W
