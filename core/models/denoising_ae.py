"""Denoising autoencoder (Vincent et al. 2008): reconstruct the clean input from a corrupted one."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.models.ae import ShallowAutoencoder
from core.models.autoencoder import AutoencoderState, check_positive

NOISE_KINDS = ("gaussian", "salt-pepper", "masking")


@dataclass(slots=True)
class DenoisingState(AutoencoderState):
    low: torch.Tensor | None = None  # the data's smallest and largest values (salt-and-pepper noise)
    high: torch.Tensor | None = None


class DenoisingAutoencoder(ShallowAutoencoder):
    """Minimise mean ||x - g(C(x))||^2 where C corrupts the input during training only.

    noise : 'gaussian' (add N(0, noise_level^2)), 'salt-pepper' (a noise_level fraction of entries set
    to the data's min or max at random) or 'masking' (a noise_level fraction of entries set to 0).
    The corruption forces features that capture the data's structure rather than the identity map.
    """

    _live_params = ("learning_rate", "noise_level")
    _State = DenoisingState

    def __init__(self, n_components=16, *, noise="gaussian", noise_level=0.3, activation="sigmoid",
                 tied=False, bias=True, max_steps=2000, batch_size=128, learning_rate=3e-3,
                 random_state=None, device="auto", log_every=10):
        super().__init__(n_components, activation=activation, tied=tied, bias=bias, max_steps=max_steps,
                         batch_size=batch_size, learning_rate=learning_rate, random_state=random_state,
                         device=device, log_every=log_every)
        self.noise = noise
        self.noise_level = noise_level

    def _check_params(self) -> None:
        super()._check_params()
        if self.noise not in NOISE_KINDS:
            raise ValueError(f"Unknown noise {self.noise!r}; choose one of {', '.join(NOISE_KINDS)}.")
        check_positive("noise_level", self.noise_level, allow_zero=True)

    def _setup_extra(self, X: torch.Tensor) -> None:
        self._t.low, self._t.high = X.min(), X.max()

    def _corrupt(self, x: torch.Tensor) -> torch.Tensor:
        level = float(self.noise_level)
        if level == 0:
            return x
        if self.noise == "gaussian":
            return x + level * torch.randn(x.shape, generator=self._t.gen, device=x.device)
        hit = torch.rand(x.shape, generator=self._t.gen, device=x.device) < min(level, 1.0)
        if self.noise == "masking":
            return x.masked_fill(hit, 0.0)
        salt = torch.rand(x.shape, generator=self._t.gen, device=x.device) < 0.5
        return torch.where(hit, torch.where(salt, self._t.high, self._t.low), x)
