"""Non-negative sparse autoencoder (NNSAE, Lemme et al. 2012; NCAE, Hosseini-Asl et al. 2016)."""

from __future__ import annotations

from core.models.sae_l1 import L1SAE


class NonNegativeSAE(L1SAE):
    """Minimise mean ||x - h W_dec||^2 / d + l1_coef * mean_i sum_j h_ij  with h = ReLU(x W_enc^T + b_enc) >= 0
    and W_dec >= 0 (projected after every step), rows of unit norm, and no decoder bias.

    The L1 sparse autoencoder with ``non_negative=True, decoder_bias=False``: codes and atoms are both
    non-negative, so a reconstruction is a sum of parts that can only add up, as in NMF. Compare its atoms
    with NMF's parts on the Compare page. Needs non-negative data. Dead latents are revived
    (``resample_dead``, see ``core.models.sae``): without it a fifth to two fifths of them stay dead on
    swimmer.
    """

    _requires_non_negative = True

    def __init__(self, n_components=32, *, l1_coef=1e-4, tied=False, max_steps=2000, batch_size=256,
                 learning_rate=5e-3, warmup_steps=50, decoder_bias_init="mean", dead_window=2048,
                 random_state=None, device="auto", log_every=10, non_negative=True, decoder_bias=False,
                 resample_dead=True):
        super().__init__(n_components, l1_coef=l1_coef, max_steps=max_steps, batch_size=batch_size,
                         learning_rate=learning_rate, warmup_steps=warmup_steps,
                         decoder_bias_init=decoder_bias_init, dead_window=dead_window,
                         random_state=random_state, device=device, log_every=log_every,
                         non_negative=non_negative, decoder_bias=decoder_bias, resample_dead=resample_dead)
        self.tied = tied
