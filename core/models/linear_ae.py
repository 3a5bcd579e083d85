"""Linear autoencoder: its optimum spans the principal subspace, so it reaches the PCA error."""

from __future__ import annotations

import torch

from core.models.autoencoder import BaseAutoencoder


class LinearAutoencoder(BaseAutoencoder):
    """x_hat = (x W_enc^T + b_enc) W_dec + b_dec, trained on the mean squared error.

    With K hidden units its global minimum is the rank-K PCA error (Baldi & Hornik 1989); gradient
    descent learns the principal components one after another, largest eigenvalue first (Refinetti &
    Goldt). The atoms span the PCA subspace but need not be orthogonal unless the weights are tied.
    """

    def __init__(self, n_components=16, *, tied=False, bias=True, max_steps=2000, batch_size=128,
                 learning_rate=3e-3, optimizer="adam", init_scale=1.0, sqrt_d_scaling=False,
                 random_state=None, device="auto", log_every=10):
        self.n_components = n_components
        self.tied = tied
        self.bias = bias
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.init_scale = init_scale
        self.sqrt_d_scaling = sqrt_d_scaling
        self.random_state = random_state
        self.device = device
        self.log_every = log_every

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        return pre
