"""Non-negative sparse autoencoder (NNSAE, Lemme et al. 2012; NCAE, Hosseini-Asl et al. 2016)."""

from __future__ import annotations

import torch

from core.models.autoencoder import check_positive
from core.models.sae import BaseSAE


class NonNegativeSAE(BaseSAE):
    """Minimise mean ||x - h W_dec||^2 / d + l1_coef * mean_i sum_j h_ij  with h = ReLU(x W_enc^T + b_enc) >= 0
    and W_dec >= 0 (projected after every step), rows of unit norm, and no decoder bias.

    Codes and atoms are both non-negative, so a reconstruction is a sum of parts that can only add up,
    as in NMF: compare its atoms with NMF's parts on the Compare page. Needs non-negative data.
    """

    _requires_non_negative = True
    _non_negative_atoms = True
    _has_decoder_bias = False
    _center_with_decoder_bias = False
    _live_params = ("learning_rate", "l1_coef")

    def __init__(self, n_components=32, *, l1_coef=1e-4, tied=False, max_steps=2000, batch_size=256,
                 learning_rate=1e-2, warmup_steps=50, decoder_bias_init="mean", dead_window=2048,
                 random_state=None, device="auto", log_every=10):
        self._common_init(n_components, max_steps, batch_size, learning_rate, warmup_steps,
                          decoder_bias_init, dead_window, random_state, device, log_every)
        self.l1_coef = l1_coef
        self.tied = tied

    def _check_params(self) -> None:
        super()._check_params()
        check_positive("l1_coef", self.l1_coef, allow_zero=True)

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.relu(pre)

    def _extra_loss(self, codes, pre, x, x_hat):
        return {"l1": float(self.l1_coef) * codes.sum(1).mean()}
