"""Gated sparse autoencoder (Rajamanoharan et al. 2024, "Improving dictionary learning with Gated SAEs")."""

from __future__ import annotations

import torch

from core.models.autoencoder import hyper
from core.models.sae_l1 import L1SAE


def gated_codes(pre_gate: torch.Tensor, b_gate: torch.Tensor, r_mag: torch.Tensor,
                b_mag: torch.Tensor) -> torch.Tensor:
    """h = 1[pi_gate > 0] * ReLU(pi_mag), with pi_mag = exp(r_mag) * (pi_gate - b_gate) + b_mag.

    pre_gate: (..., batch, n_latents), the gate's pre-activation (x - b_dec) W_gate^T + b_gate; the other
    three broadcast against it. The magnitude path shares the gate's directions (W_mag = exp(r_mag) W_gate),
    so one matrix product serves both. The gate is a step: no gradient reaches it through h."""
    magnitude = torch.exp(r_mag) * (pre_gate - b_gate) + b_mag
    return (pre_gate > 0).to(pre_gate.dtype) * torch.relu(magnitude)


class GatedSAE(L1SAE):
    """Minimise mean ||x - x_hat||^2 / d + l1_coef * mean_i sum_j ReLU(pi_gate)_ij + mean ||x - x_aux||^2 / d.

    Which latents fire (the gate) and how strongly (the magnitude) are separate paths: the L1 penalty acts on
    the gate's pre-activations only, so it selects latents without shrinking the magnitudes of those that
    fire (the L1 SAE's shrinkage). x_aux = ReLU(pi_gate) W_dec + b_dec with the decoder frozen (no gradient
    to W_dec or b_dec) trains the gate to pick latents that reconstruct. Encoder: W_enc is W_gate, b_enc
    b_gate; ``magnitude_scale_`` is exp(r_mag), ``magnitude_bias_`` b_mag.
    """

    _weight_names = L1SAE._weight_names + ("magnitude_scale_", "magnitude_bias_")

    # The parameters (l1_coef and the shared ones) and their checks are the L1 SAE's.

    def _setup_extra(self, X: torch.Tensor) -> None:
        super()._setup_extra(X)
        b_gate = self._t.params["b_enc"]
        # r_mag = 0 and b_mag = 0: the magnitude path starts as the gate's pre-activation without its bias
        self._t.params["r_mag"] = torch.nn.Parameter(torch.zeros_like(b_gate))
        self._t.params["b_mag"] = torch.nn.Parameter(torch.zeros_like(b_gate))
        self._t.optimizer.add_param_group({"params": [self._t.params["r_mag"], self._t.params["b_mag"]]})

    def _magnitude(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(b_gate, r_mag, b_mag): the training weights while fitting, else the fitted ones."""
        if self._t is not None:
            p = self._t.params
            return p["b_enc"], p["r_mag"], p["b_mag"]
        as_tensor = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
        return (as_tensor(self.encoder_bias_), torch.log(as_tensor(self.magnitude_scale_)),
                as_tensor(self.magnitude_bias_))

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        return gated_codes(pre, *self._magnitude(pre.device))

    def _extra_loss(self, codes, pre, x, x_hat):
        gate = torch.relu(pre)
        p = self._weights_for_forward(self._t.params)
        x_aux = gate @ p["W_dec"].detach() + p["b_dec"].detach()
        return {"l1": hyper(self.l1_coef) * gate.sum(-1).mean(-1),
                "aux_mse": (x - x_aux).pow(2).mean((-2, -1))}

    def _finish_extra(self) -> None:
        to_np = lambda t: t.detach().float().cpu().numpy().copy()  # noqa: E731
        self.magnitude_scale_ = to_np(self._t.params["r_mag"].exp())
        self.magnitude_bias_ = to_np(self._t.params["b_mag"])
