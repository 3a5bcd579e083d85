"""The TopK family's sparse encoder gradient: W_enc's gradient taken from the non-zeros of the
pre-activations' gradient (``core.models.sae_topk.sparse_weight_gradient``) equals autograd's dense one, for a
model alone and for a sweep's stack, with AuxK's dead-latent term on; the dense product takes over where the
gradient is not sparse (or not a CPU float)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import models
from core.models import sae_topk
from core.models.sae_topk import SPARSE_GRADIENT_MAX_DENSITY, sparse_weight_gradient
from core.sweep import BatchedSAEStack
from core.training import train_steps

PARAMS = {"n_components": 64, "auxk": 4, "batch_size": 24, "max_steps": 5, "warmup_steps": 1, "random_state": 0,
          "device": "cpu", "dead_window": 48}


@pytest.fixture(autouse=True)
def small_inputs_take_the_sparse_path(monkeypatch):
    monkeypatch.setattr(sae_topk, "SPARSE_GRADIENT_MIN_FEATURES_PER_THREAD", 1)  # these tests' data: 20 features


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((96, 20), dtype=np.float32)


def _plain_autograd(x, b_dec, W, b, dtype, sparse_grad=False):
    return (x - b_dec) @ W.mT + b  # autograd's own backward: the dense product


def _float64_with_dead_latents(model):
    """The model's training state in float64, with half its latents dead so that AuxK's term is on."""
    state = model._t
    state.params = {name: torch.nn.Parameter(t.detach().double()) for name, t in state.params.items()}
    state.X = state.X.double()
    state.since_fired.zero_()
    state.since_fired[..., : state.since_fired.shape[-1] // 2] = model.dead_window
    state.auxk_active, state.auxk_check_at = True, 10**9
    return state


def _gradients(model, x, linear, monkeypatch):
    monkeypatch.setattr(sae_topk._CenteredLinear, "apply", linear)
    p = model._weights_for_forward(model._t.params)
    x_hat, codes, pre = model._forward(x, p)
    extras = model._extra_loss(codes, pre, x, x_hat)
    assert float(extras["auxk"].detach().min()) > 0, "AuxK's term must be on for this test"
    loss = ((x - x_hat).pow(2).mean((-2, -1)) + sum(extras.values())).sum()
    names = list(model._t.params)
    return dict(zip(names, torch.autograd.grad(loss, [model._t.params[n] for n in names])))


def _check_sparse_equals_dense(model, monkeypatch):
    state = _float64_with_dead_latents(model)
    x = state.X[: model.batch_size]
    used = []

    def spy(grad, xc):
        result = sparse_weight_gradient(grad, xc)
        used.append(result is not None)
        return result

    monkeypatch.setattr(sae_topk, "sparse_weight_gradient", spy)
    sparse = _gradients(model, x, sae_topk._CenteredLinear.apply, monkeypatch)
    dense = _gradients(model, x, _plain_autograd, monkeypatch)
    assert used == [True], "the sparse product must have been taken"
    for name in dense:
        assert sparse[name].dtype == torch.float64
        torch.testing.assert_close(sparse[name], dense[name], rtol=1e-12, atol=1e-12, msg=name)


@pytest.mark.parametrize("model_name", ["sae-topk", "sae-batchtopk", "sae-matryoshka"])
def test_sparse_encoder_gradient_equals_autograd_alone_with_auxk(model_name, X, monkeypatch):
    model = models.create(model_name, k=3, **PARAMS)
    model._begin_fit(X)
    _check_sparse_equals_dense(model, monkeypatch)


@pytest.mark.parametrize("model_name", ["sae-topk", "sae-batchtopk"])
def test_sparse_encoder_gradient_equals_autograd_in_a_stack_with_auxk(model_name, X, monkeypatch):
    stack = BatchedSAEStack([models.create(model_name, k=k, **PARAMS) for k in (2, 3, 5)], X)
    _check_sparse_equals_dense(stack.model, monkeypatch)


def test_dense_product_takes_over_where_the_sparse_one_does_not_pay(monkeypatch):
    rng = torch.Generator().manual_seed(0)
    xc = torch.randn(2, 8, 5, generator=rng)
    dense_grad = torch.randn(2, 8, 30, generator=rng)
    assert sparse_weight_gradient(dense_grad, xc) is None
    few = torch.zeros_like(dense_grad)
    few[..., 0] = 1.0  # 1 of 30 per row: under the density bound
    assert 1 / 30 < SPARSE_GRADIENT_MAX_DENSITY
    torch.testing.assert_close(sparse_weight_gradient(few, xc), few.mT @ xc)
    assert sparse_weight_gradient(few.bfloat16(), xc.bfloat16()) is None  # scipy has no bfloat16
    monkeypatch.setattr(sae_topk, "SPARSE_GRADIENT_MIN_FEATURES_PER_THREAD", 3)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    torch.testing.assert_close(sparse_weight_gradient(few, xc), few.mT @ xc)  # 5 features >= 3 a thread
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert sparse_weight_gradient(few, xc) is None  # < 3 a thread: the 2-thread dense product is cheaper


def test_training_with_the_sparse_gradient_follows_the_dense_one(X, monkeypatch):
    def losses(sparse):
        monkeypatch.setattr(sae_topk.TopKSAE, "_sparse_encoder_grad", sparse)
        model = models.create("sae-topk", k=3, **{**PARAMS, "max_steps": 40, "log_every": 5})
        return [row["loss"] for row in train_steps(model, X)], model.components_

    (sparse_losses, sparse_atoms), (dense_losses, dense_atoms) = losses(True), losses(False)
    np.testing.assert_allclose(sparse_losses, dense_losses, rtol=1e-5)
    np.testing.assert_allclose(sparse_atoms, dense_atoms, atol=1e-5)
