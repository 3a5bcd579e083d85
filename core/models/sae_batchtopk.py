"""BatchTopK sparse autoencoder (Bussmann et al. 2024): top k x batch codes over the whole batch."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.models.sae_topk import TopKSAE, TopKState, largest


@dataclass(slots=True)
class BatchTopKState(TopKState):
    threshold: torch.Tensor | None = None  # running estimate of the inference threshold
    threshold_seen: torch.Tensor | None = None  # 0 until the first batch set it (then the average starts)


class BatchTopKSAE(TopKSAE):
    """Like TopK, but the k x batch_size largest codes are kept across the batch, so samples may use more
    or fewer than k latents while the *average* is k. At inference a single threshold replaces the
    batch: theta is an exponential moving average of the smallest kept code during training, and a
    code is active when its pre-activation exceeds theta. Same AuxK loss as TopK.
    """

    _weight_names = TopKSAE._weight_names + ("threshold_",)
    _State = BatchTopKState

    def _setup_extra(self, X: torch.Tensor) -> None:
        super()._setup_extra(X)
        self._t.threshold = torch.zeros(self._t.params["W_dec"].shape[:-2], device=X.device)
        self._t.threshold_seen = torch.zeros((), device=X.device)

    def _select(self, pre: torch.Tensor) -> torch.Tensor:
        # the number of codes per sample varies: kept dense (decoded by a product)
        return self._activate(pre)

    def _state(self) -> dict[str, torch.Tensor]:
        # a diverged run restores the threshold with the weights it was estimated for
        return {**super()._state(), "threshold": self._t.threshold}

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        flat = torch.relu(pre).flatten(-2)  # each model's whole batch (pre: (..., batch, n_latents))
        n_keep = self.k * pre.shape[-2]
        n_keep = n_keep.clamp(max=flat.shape[-1]) if isinstance(n_keep, torch.Tensor) else min(flat.shape[-1], n_keep)
        values, indices = largest(flat, n_keep)
        codes = torch.zeros_like(flat).scatter_(-1, indices, values).view_as(pre)
        if torch.is_grad_enabled() and getattr(self, "_training", False):
            with torch.no_grad():  # running estimate of the inference threshold
                smallest = torch.where(values > 0, values, torch.full_like(values, float("inf"))).min(-1).values
                smallest = torch.where(torch.isinf(smallest), torch.zeros_like(smallest), smallest)
                momentum = torch.where(self._t.threshold_seen > 0, 0.99, 0.0)
                self._t.threshold.mul_(momentum).add_((1 - momentum) * smallest)
                self._t.threshold_seen.fill_(1)
        return codes

    def _inference_activate(self, pre: torch.Tensor) -> torch.Tensor:
        threshold = torch.as_tensor(self.threshold_, device=pre.device)
        return torch.where(pre > threshold, pre, torch.zeros_like(pre)).clamp_min(0)

    def _finish_extra(self) -> None:
        self.threshold_ = self._t.threshold.detach().cpu().numpy().reshape(*self._t.threshold.shape, 1).copy()
