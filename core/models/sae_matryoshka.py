"""Matryoshka BatchTopK sparse autoencoder (Bussmann et al. 2025, "Learning multi-level features with
Matryoshka SAEs"): nested dictionaries, each prefix of the latents trained to reconstruct on its own."""

from __future__ import annotations

import torch

from core.models.autoencoder import check_positive
from core.models.sae_batchtopk import BatchTopKSAE


def prefix_sizes(n_latents: int, n_groups: int) -> list[int]:
    """The nested dictionary sizes m_1 < ... < m_G = n_latents: each prefix doubles the one before
    (n_latents / 2^(G-1), ..., n_latents / 2, n_latents), sizes below 1 dropped."""
    sizes = sorted({max(1, round(n_latents / 2 ** (n_groups - 1 - g))) for g in range(n_groups)})
    return sizes


class MatryoshkaBatchTopKSAE(BatchTopKSAE):
    """Minimise sum over prefixes m of mean ||x - x_hat_m||^2 / d + auxk_coef * AuxK, where
    x_hat_m = h[:m] W_dec[:m] + b_dec decodes with only the first m latents and h = BatchTopK(pre).

    The prefixes (``prefix_sizes``) are ``n_groups`` nested dictionaries, each twice the one before; the
    largest is the whole dictionary (its term is the plain reconstruction loss). A prefix must reconstruct
    on its own, so the first latents learn general features and later ones refine them, instead of a
    general feature being split into narrow ones as the dictionary grows ("feature absorption").
    Inference: BatchTopK's single threshold. ``n_groups=1`` is plain BatchTopK.
    """

    def __init__(self, n_components=64, *, k=8, n_groups=4, auxk=None, auxk_coef=1 / 32, max_steps=2000,
                 batch_size=256, learning_rate=3e-3, warmup_steps=50, decoder_bias_init="mean",
                 dead_window=2048, random_state=None, device="auto", log_every=10, precision="auto",
                 non_negative=False, decoder_bias=True, resample_dead=False):
        super().__init__(n_components, k=k, auxk=auxk, auxk_coef=auxk_coef, max_steps=max_steps,
                         batch_size=batch_size, learning_rate=learning_rate, warmup_steps=warmup_steps,
                         decoder_bias_init=decoder_bias_init, dead_window=dead_window,
                         random_state=random_state, device=device, log_every=log_every, precision=precision,
                         non_negative=non_negative, decoder_bias=decoder_bias, resample_dead=resample_dead)
        self.n_groups = n_groups

    def _check_params(self) -> None:
        super()._check_params()
        check_positive("n_groups", self.n_groups, integer=True)

    def _extra_loss(self, codes, pre, x, x_hat):
        extras = super()._extra_loss(codes, pre, x, x_hat)
        W_dec = self._t.W_dec_c if self._t.W_dec_c is not None else self._t.params["W_dec"]
        b_dec = self._weights_for_forward(self._t.params)["b_dec"]
        sizes = prefix_sizes(W_dec.shape[-2], int(self.n_groups))
        codes = codes.to(W_dec.dtype)
        partial, start, prefixes = b_dec, 0, 0.0
        for size in sizes[:-1]:  # the whole dictionary's term is the reconstruction loss itself
            partial = partial + codes[..., start:size] @ W_dec[..., start:size, :]
            prefixes = prefixes + (x - partial.float()).pow(2).mean((-2, -1))
            start = size
        if len(sizes) > 1:
            extras["prefix_mse"] = prefixes
        return extras
