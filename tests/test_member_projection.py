"""The sparse family's projection of the decoder gradient off each atom, done on the CPU one model of a stack at
a time (so that a stack's temporary stays one model's size), keeps the whole-stack arithmetic bit for bit."""

from __future__ import annotations

import pytest
import torch

from core import models


@pytest.mark.parametrize("stack", [(), (3,)])
def test_member_by_member_projection_equals_the_whole_stack_formula_bit_for_bit(stack):
    gen = torch.Generator().manual_seed(0)
    model = models.create("sae-topk", n_components=30, k=3)
    atoms = torch.randn(*stack, 30, 20, generator=gen)
    W = torch.nn.Parameter(atoms / atoms.norm(dim=-1, keepdim=True))  # unit-norm atoms, as in training
    W.grad = torch.randn(*stack, 30, 20, generator=gen)
    expected = W.grad - (W.grad * W.detach()).sum(-1, keepdim=True) * W.detach()
    model._t = type("State", (), {"params": {"W_dec": W}})()
    model._before_optimizer_step()
    assert torch.equal(W.grad, expected)
    assert (W.grad * W.detach()).sum(-1).abs().max() < 1e-5  # no component left along any (unit) atom
