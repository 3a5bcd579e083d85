"""Sigmoid sparse autoencoder with a KL sparsity penalty (Ng, CS294A lecture notes)."""

from __future__ import annotations

import torch

from core.models.autoencoder import check_positive, hyper
from core.models.sae import BaseSAE


class KLSAE(BaseSAE):
    """Minimise CS294A's  J = (1/m) sum_i (1/2)||x_i - x_hat_i||^2 + (lambda/2)(||W_enc||^2 + ||W_dec||^2)
    + beta sum_j KL(rho || rho_hat_j),  with its names and scale.

    h = sigmoid(pre-activation); rho_hat_j is unit j's mean activation over the batch and
    KL(rho || rho_hat) = rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 - rho_hat)).
    ``sparsity_target`` is rho (0.01 in the notes' exercise, 0.05 here), ``sparsity_weight`` is beta (3),
    ``weight_decay`` is lambda (1e-4); the error is the notes' per-sample half squared error (the history's
    ``mse`` stays the per-entry mean, as for every model). ``optimizer='lbfgs'`` trains on the full batch
    with L-BFGS as the notes do (a few hundred steps give edge detectors on whitened natural patches);
    'adam' on minibatches of ``batch_size``.
    Sigmoid codes are never exactly zero, so a latent counts as active on a sample when its code is above
    1/2 (a positive pre-activation): the history's ``l0`` and ``dead_fraction`` both count by this rule.
    """

    # As in CS294A the atoms are not held at unit norm: sigmoid codes are bounded by 1, and weight decay
    # (on both weight matrices) keeps the scale in check instead.
    _unit_norm_atoms = False
    activity_threshold = 0.5  # sigmoid codes are never 0: active is above half activation (L0 and dead count)
    _live_params = ("learning_rate", "sparsity_weight")

    def __init__(self, n_components=64, *, sparsity_target=0.05, sparsity_weight=3.0, weight_decay=1e-4,
                 optimizer="adam", max_steps=2000, batch_size=256, learning_rate=3e-3, warmup_steps=50,
                 decoder_bias_init="mean", dead_window=2048, random_state=None, device="auto", log_every=10,
                 non_negative=False, decoder_bias=True, resample_dead=False):
        self._common_init(n_components, max_steps, batch_size, learning_rate, warmup_steps,
                          decoder_bias_init, dead_window, random_state, device, log_every, non_negative,
                          decoder_bias, resample_dead)
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.weight_decay = weight_decay
        self.optimizer = optimizer

    def _check_params(self) -> None:
        super()._check_params()
        if not 0 < float(self.sparsity_target) < 1:
            raise ValueError(f"sparsity_target (rho) must lie strictly between 0 and 1, got {self.sparsity_target}.")
        check_positive("sparsity_weight", self.sparsity_weight, allow_zero=True)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)

    def _reconstruction_loss(self, mse, x):
        return 0.5 * x.shape[-1] * mse  # CS294A: half the squared error summed over a sample's features

    def _before_optimizer_step(self) -> None:
        """Atoms are free to change length here, so their gradient is left whole."""

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(pre)

    def _extra_loss(self, codes, pre, x, x_hat):
        rho = hyper(self.sparsity_target, 1)
        rho_hat = codes.mean(-2).clamp(1e-6, 1 - 1e-6)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        weights = {id(w): w for w in (self._t.params.get("W_enc"), self._t.params["W_dec"]) if w is not None}
        decay = sum(w.pow(2).sum((-2, -1)) for w in weights.values())
        return {"kl": hyper(self.sparsity_weight) * kl.sum(-1), "weight_decay": 0.5 * hyper(self.weight_decay) * decay}

    def _encode(self, X: torch.Tensor) -> torch.Tensor:
        # Sigmoid codes are all non-zero and mid-range, where the last bit of a float32 product (which
        # depends on the row's place in the batch on the CPU) shows; on the CPU the product in float64
        # makes a sample's code independent of the batch it comes in.
        if X.device.type != "cpu":
            return super()._encode(X)
        p = {name: t.double() for name, t in self._fitted_tensors(X.device).items()}
        return self._activate(self._pre_activation(X.double(), p)).float()


    def _step_metrics(self, codes):
        metrics = super()._step_metrics(codes)
        metrics["mean_activation"] = codes.mean((-2, -1))
        return metrics
