"""Non-negative sparse autoencoder (NNSAE, Lemme et al. 2012; NCAE, Hosseini-Asl et al. 2016)."""

from __future__ import annotations

import torch

from core.models.sae_l1 import L1SAE


class NonNegativeSAE(L1SAE):
    """Minimise mean ||x - h W_dec||^2 / d + l1_coef * mean_i sum_j h_ij  with h = ReLU(x W_enc^T + b_enc) >= 0
    and W_dec >= 0 (projected after every step), rows of unit norm, and no decoder bias.

    The L1 sparse autoencoder with non-negative atoms: codes and atoms are both non-negative, so a
    reconstruction is a sum of parts that can only add up, as in NMF. Compare its atoms with NMF's parts
    on the Compare page. Needs non-negative data.
    """

    _requires_non_negative = True
    _non_negative_atoms = True
    _has_decoder_bias = False
    _center_with_decoder_bias = False

    def __init__(self, n_components=32, *, l1_coef=1e-4, tied=False, max_steps=2000, batch_size=256,
                 learning_rate=5e-3, warmup_steps=50, decoder_bias_init="mean", dead_window=2048,
                 random_state=None, device="auto", log_every=10):
        super().__init__(n_components, l1_coef=l1_coef, max_steps=max_steps, batch_size=batch_size,
                         learning_rate=learning_rate, warmup_steps=warmup_steps,
                         decoder_bias_init=decoder_bias_init, dead_window=dead_window,
                         random_state=random_state, device=device, log_every=log_every)
        self.tied = tied

    @torch.no_grad()
    def _setup_extra(self, X: torch.Tensor) -> None:
        super()._setup_extra(X)
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
