"""ReLU sparse autoencoder with an L1 penalty (Bricken et al. 2023)."""

from __future__ import annotations

import torch

from core.models.autoencoder import check_positive, hyper
from core.models.sae import BaseSAE


class L1SAE(BaseSAE):
    """Minimise mean ||x - x_hat||^2 / d + l1_coef * mean_i sum_j |h_ij|, with h = ReLU(pre-activation).

    With unit-norm atoms the L1 term is the norm-weighted penalty sum_j |h_j| ||W_dec[j]||, so the model
    cannot shrink codes by growing atoms. Raise ``l1_coef`` for sparser codes and a worse reconstruction.
    """

    _live_params = ("learning_rate", "l1_coef")

    def __init__(self, n_components=64, *, l1_coef=3e-3, max_steps=2000, batch_size=256, learning_rate=3e-3,
                 warmup_steps=50, decoder_bias_init="mean", dead_window=2048, random_state=None,
                 device="auto", log_every=10, non_negative=False, decoder_bias=True, resample_dead=False):
        self._common_init(n_components, max_steps, batch_size, learning_rate, warmup_steps,
                          decoder_bias_init, dead_window, random_state, device, log_every, non_negative,
                          decoder_bias, resample_dead)
        self.l1_coef = l1_coef

    def _check_params(self) -> None:
        super()._check_params()
        check_positive("l1_coef", self.l1_coef, allow_zero=True)

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.relu(pre)

    def _extra_loss(self, codes, pre, x, x_hat):
        return {"l1": hyper(self.l1_coef) * codes.abs().sum(-1).mean(-1)}
