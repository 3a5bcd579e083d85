"""JumpReLU sparse autoencoder (Rajamanoharan et al. 2024) with straight-through threshold gradients."""

from __future__ import annotations

import math

import torch

from core.models.autoencoder import check_positive, hyper
from core.models.sae import BaseSAE


def _rectangle(u: torch.Tensor) -> torch.Tensor:
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class _JumpReLU(torch.autograd.Function):
    """z * H(z - theta). Gradient to z where active; to theta the pseudo-derivative -(theta/eps) K((z-theta)/eps)."""

    @staticmethod
    def forward(ctx, z, theta, bandwidth):
        ctx.save_for_backward(z, theta)
        ctx.bandwidth = bandwidth
        return z * (z > theta).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        z, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_z = (z > theta).to(z.dtype) * grad
        grad_theta = (-(theta / eps) * _rectangle((z - theta) / eps) * grad).sum(-2, keepdim=True)
        return grad_z, grad_theta, None


class _Step(torch.autograd.Function):
    """H(z - theta), with the pseudo-derivative -(1/eps) K((z-theta)/eps) for theta (none for z)."""

    @staticmethod
    def forward(ctx, z, theta, bandwidth):
        ctx.save_for_backward(z, theta)
        ctx.bandwidth = bandwidth
        return (z > theta).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        z, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_theta = (-(1.0 / eps) * _rectangle((z - theta) / eps) * grad).sum(-2, keepdim=True)
        return torch.zeros_like(z), grad_theta, None


def _per_row(theta: torch.Tensor) -> torch.Tensor:
    """Thresholds (..., n_latents) shaped to broadcast over a batch's rows: (..., 1, n_latents)."""
    return theta.unsqueeze(-2)


class JumpReLUSAE(BaseSAE):
    """Minimise mean ||x - x_hat||^2 / d + l0_coef * mean_i ||h_i||_0,  h = JumpReLU_theta(pre-activation).

    JumpReLU_theta(z) = z H(z - theta) with a learned positive threshold theta per latent (kept as
    log theta). L0 is not differentiable, so theta learns through straight-through estimators: a
    rectangle kernel of width ``bandwidth`` around the threshold stands in for the step's derivative.
    """

    _weight_names = BaseSAE._weight_names + ("threshold_",)
    _live_params = ("learning_rate", "l0_coef")

    def __init__(self, n_components=64, *, l0_coef=1e-3, threshold_init=0.1, bandwidth=0.05, max_steps=2000,
                 batch_size=256, learning_rate=3e-3, warmup_steps=50, decoder_bias_init="mean",
                 dead_window=2048, random_state=None, device="auto", log_every=10,
                 non_negative=False, decoder_bias=True, resample_dead=False):
        self._common_init(n_components, max_steps, batch_size, learning_rate, warmup_steps,
                          decoder_bias_init, dead_window, random_state, device, log_every, non_negative,
                          decoder_bias, resample_dead)
        self.l0_coef = l0_coef
        self.threshold_init = threshold_init
        self.bandwidth = bandwidth

    def _check_params(self) -> None:
        super()._check_params()
        check_positive("l0_coef", self.l0_coef, allow_zero=True)
        check_positive("threshold_init", self.threshold_init)
        check_positive("bandwidth", self.bandwidth)

    def _setup_extra(self, X: torch.Tensor) -> None:
        super()._setup_extra(X)
        latents = self._t.params["W_dec"].shape[:-1]
        init = hyper(self.threshold_init, 1)
        if isinstance(init, torch.Tensor):  # a stack: each model's own initial threshold
            log_theta = init.double().log().float().expand(latents).clone()
        else:
            log_theta = torch.full(latents, math.log(init), device=X.device)
        self._t.params["log_threshold"] = torch.nn.Parameter(log_theta)
        self._t.optimizer.add_param_group({"params": [self._t.params["log_threshold"]]})

    def _threshold(self) -> torch.Tensor:
        if self._t is not None:  # training, or writing the fitted threshold at its end
            return self._t.params["log_threshold"].exp()
        return torch.as_tensor(self.threshold_)

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        return _JumpReLU.apply(pre, _per_row(self._threshold().to(pre.device)), hyper(self.bandwidth, 2))

    def _inference_activate(self, pre: torch.Tensor) -> torch.Tensor:
        theta = torch.as_tensor(self.threshold_, device=pre.device)
        return pre * (pre > theta).to(pre.dtype)

    def _extra_loss(self, codes, pre, x, x_hat):
        l0 = _Step.apply(pre, _per_row(self._threshold().to(pre.device)), hyper(self.bandwidth, 2)).sum(-1).mean(-1)
        return {"l0_penalty": hyper(self.l0_coef) * l0}

    def _finish_extra(self) -> None:
        self.threshold_ = self._t.params["log_threshold"].detach().exp().float().cpu().numpy().copy()
