"""TopK's gathered decoder has a stacked form (issue 21): a sweep's stack of S TopK SAEs decodes through each
sample's k active atoms as one SAE alone does, instead of the dense (batch x n_latents) product (which made
the stack slower than training the SAEs one after another at 4096 latents)."""

from __future__ import annotations

import torch

from core.models.sae_topk import gathered_decode, keep_top_k, top_k


def test_a_stack_decodes_through_the_gathered_atoms_as_each_model_alone_and_dense_codes_do():
    gen = torch.Generator().manual_seed(0)
    stack, batch, n_latents, n_features, k = 3, 7, 20, 5, 4
    pre = torch.randn(stack, batch, n_latents, generator=gen)
    W = torch.randn(stack, n_latents, n_features, generator=gen, requires_grad=True)
    values, indices = top_k(pre, k)
    stacked = gathered_decode(indices, values, W)
    dense = keep_top_k(pre, k) @ W
    torch.testing.assert_close(stacked, dense)
    for s in range(stack):  # the same as model s decoded alone
        torch.testing.assert_close(stacked[s], gathered_decode(indices[s], values[s], W[s]))
    # and the decoder's gradient is the dense product's
    (grad_gathered,) = torch.autograd.grad(stacked.square().sum(), W)
    (grad_dense,) = torch.autograd.grad(dense.square().sum(), W)
    torch.testing.assert_close(grad_gathered, grad_dense)


def test_per_model_k_in_a_stack_zeroes_the_extra_atoms():
    gen = torch.Generator().manual_seed(1)
    pre = torch.randn(2, 6, 12, generator=gen)
    W = torch.randn(2, 12, 3, generator=gen)
    k = torch.tensor([2, 5])
    values, indices = top_k(pre, k)  # each model gets max(k) entries, those past its own k set to 0
    decoded = gathered_decode(indices, values, W)
    for s, k_s in enumerate(k.tolist()):
        torch.testing.assert_close(decoded[s], keep_top_k(pre[s], k_s) @ W[s])


def test_a_sweep_stack_trains_with_the_gathered_decoder_as_each_model_alone(monkeypatch):
    import numpy as np

    from core import datasets, models
    from core.models.sae_topk import TopKSAE
    from core.sweep import Sweep, SweepConfig
    from core.training import train_steps

    import core.models.sae_topk as topk_module

    monkeypatch.setattr(TopKSAE, "_decoder", "sparse")  # the cost model picks dense at this size: force it
    decoded_dims = []

    def spy(indices, values, W_dec):
        decoded_dims.append(W_dec.dim())
        return gathered_decode(indices, values, W_dec)

    monkeypatch.setattr(topk_module, "gathered_decode", spy)
    X = datasets.load("digits", scale="minmax", n_samples=300, seed=0).X
    base = {"n_components": 16, "max_steps": 40, "batch_size": 32, "random_state": 0, "device": "cpu"}
    sweep = Sweep(SweepConfig("sae-topk", "k", [2, 6], base))
    assert sweep.batched
    for _ in sweep.steps(X):
        pass
    assert 3 in decoded_dims, "the stack did not decode through its gathered atoms"
    for k, point in zip([2, 6], sweep.points):
        single = models.create("sae-topk", k=k, **base)
        for _ in train_steps(single, X):
            pass
        np.testing.assert_allclose(point.estimator.components_, single.components_, atol=1e-4)
