"""TopK sparse autoencoder with the AuxK loss on dead latents (Gao et al. 2024, "Scaling and evaluating SAEs")."""

from __future__ import annotations

import torch

from core.models.autoencoder import check_positive
from core.models.sae import BaseSAE


def keep_top_k(pre: torch.Tensor, k: int) -> torch.Tensor:
    """ReLU of the k largest pre-activations of each row; every other code is 0."""
    values, indices = pre.topk(k, dim=1)
    return torch.zeros_like(pre).scatter_(1, indices, torch.relu(values))


class TopKSAE(BaseSAE):
    """Minimise mean ||x - x_hat||^2 / d + auxk_coef * AuxK, with h = TopK(pre-activation): exactly k
    codes per sample may be non-zero, so sparsity is set directly instead of through a penalty.

    AuxK (against dead latents): e = x - x_hat is the residual (no gradient through it); the top
    ``auxk`` pre-activations among dead latents decode it, *without* the decoder bias, into e_hat;
    AuxK = mean ||e - e_hat||^2 / mean ||e - mean(e)||^2 (normalised by the residual's variance).
    A latent is dead when it has not fired for ``dead_window`` samples. auxk_coef=0 gives plain TopK.
    """

    _live_params = ("learning_rate", "k")

    def __init__(self, n_components=64, *, k=8, auxk=None, auxk_coef=1 / 32, max_steps=2000, batch_size=256,
                 learning_rate=3e-3, warmup_steps=50, decoder_bias_init="mean", dead_window=2048,
                 random_state=None, device="auto", log_every=10):
        self._common_init(n_components, max_steps, batch_size, learning_rate, warmup_steps,
                          decoder_bias_init, dead_window, random_state, device, log_every)
        self.k = k
        self.auxk = auxk
        self.auxk_coef = auxk_coef

    def _check_params(self) -> None:
        super()._check_params()
        check_positive("k", self.k, integer=True)
        check_positive("auxk_coef", self.auxk_coef, allow_zero=True)
        if self.auxk is not None:
            check_positive("auxk", self.auxk, integer=True)

    def _n_latents(self, n_features: int) -> int:
        n_latents = super()._n_latents(n_features)
        if self.k > n_latents:
            raise ValueError(f"k={self.k} is larger than n_components={n_latents}: a sample cannot have more "
                             "active codes than there are latents. Lower k or raise n_components.")
        return n_latents

    def _apply_live_updates(self, updates):
        if "k" in updates:
            n_latents = self._t_params["W_dec"].shape[0]
            updates = {**updates, "k": int(min(max(1, int(updates["k"])), n_latents))}
        return super()._apply_live_updates(updates)

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        return keep_top_k(pre, int(self.k))

    def _auxk_size(self, n_latents: int, n_features: int) -> int:
        return min(n_latents, int(self.auxk) if self.auxk is not None else max(1, n_features // 2))

    def _extra_loss(self, codes, pre, x, x_hat):
        if not self.auxk_coef:
            return {}
        W_dec = self._t_params["W_dec"]
        dead = self._dead_mask()
        # Fixed-size top-k over dead latents only (live ones masked to -inf, giving ReLU 0): no host sync.
        aux_codes = keep_top_k(pre.masked_fill(~dead, float("-inf")), self._auxk_size(*W_dec.shape))
        residual = (x - x_hat).detach()
        residual_hat = aux_codes @ W_dec  # no decoder bias: the residual has none to model
        scale = (residual - residual.mean(0)).pow(2).mean().clamp_min(1e-12)
        auxk = (residual - residual_hat).pow(2).mean() / scale
        return {"auxk": float(self.auxk_coef) * auxk * dead.any()}
