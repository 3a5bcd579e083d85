"""The sparse family's projection of the decoder gradient off each atom, done on the CPU a block of rows at a
time (so that a stack's temporaries stay in the cache), keeps the whole-matrix arithmetic bit for bit."""

from __future__ import annotations

import torch

from core import models
from core.models import sae


def test_blocked_projection_equals_the_whole_matrix_formula_bit_for_bit(monkeypatch):
    monkeypatch.setattr(sae, "_BLOCK_BYTES", 7 * 20 * 4)  # 7 rows a block: blocks cross the stack's members
    gen = torch.Generator().manual_seed(0)
    model = models.create("sae-topk", n_components=30, k=3)
    atoms = torch.randn(3, 30, 20, generator=gen)
    W = torch.nn.Parameter(atoms / atoms.norm(dim=-1, keepdim=True))  # unit-norm atoms, as in training
    W.grad = torch.randn(3, 30, 20, generator=gen)
    expected = W.grad - (W.grad * W.detach()).sum(-1, keepdim=True) * W.detach()
    model._t = type("State", (), {"params": {"W_dec": W}})()
    model._before_optimizer_step()
    assert torch.equal(W.grad, expected)
    assert (W.grad * W.detach()).sum(-1).abs().max() < 1e-5  # no component left along any (unit) atom
