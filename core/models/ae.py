"""Shallow non-linear autoencoder (Refinetti & Goldt, ICML 2022)."""

from __future__ import annotations

import torch

from core.models.autoencoder import BaseAutoencoder, activation_function


class ShallowAutoencoder(BaseAutoencoder):
    """One hidden layer, x_hat = sum_k v_k g(w_k . x + b_k) + c, trained on the mean squared error.

    The grid of Refinetti & Goldt: activation g in {sigmoid, relu, erf, linear}, tied (v_k = w_k) or
    untied weights, biases on or off. What to look for: tied sigmoidal autoencoders stay above the
    PCA error (they cannot rescale without saturating), untied ones reach it; ReLU needs its biases.

    Parameters
    ----------
    n_components : int, number of hidden units K.
    activation : {'sigmoid', 'relu', 'erf', 'linear', 'tanh'}
    tied : bool, share encoder and decoder weights.
    bias : bool, train encoder and decoder biases (the decoder bias starts at the data mean).
    max_steps, batch_size, learning_rate : Adam on random minibatches.
    random_state : int or None. device : 'auto', 'cpu' or 'cuda'. log_every : steps between metric rows.
    """

    def __init__(self, n_components=16, *, activation="sigmoid", tied=False, bias=True, max_steps=2000,
                 batch_size=128, learning_rate=3e-3, optimizer="adam", init_scale=1.0, sqrt_d_scaling=False,
                 random_state=None, device="auto", log_every=10):
        self.n_components = n_components
        self.activation = activation
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
        return activation_function(self.activation)(pre)
