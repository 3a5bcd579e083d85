"""The models the lessons need (issue 19): non-negative SAEs without a decoder bias find NMF's parts, dead
latents are revived, and one rule of "active" serves both L0 and the dead fraction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import NMF

from core import datasets, metrics, models

SWIMMER_PARTS = 17  # torso and 16 limb positions


@pytest.fixture(scope="module")
def swimmer():
    return datasets.load("swimmer").X


@pytest.fixture(scope="module")
def nmf_parts(swimmer):
    return NMF(SWIMMER_PARTS, init="nndsvda", max_iter=1000, random_state=0).fit(swimmer).components_


def _topk(non_negative: bool, X):
    torch.manual_seed(0)
    return models.create("sae-topk", n_components=SWIMMER_PARTS, k=5, max_steps=1000, batch_size=64,
                         random_state=0, device="cpu", non_negative=non_negative, decoder_bias=not non_negative,
                         resample_dead=non_negative).fit(X)


def test_non_negative_topk_without_decoder_bias_finds_nmfs_parts_on_swimmer(swimmer, nmf_parts):
    parts = _topk(True, swimmer)
    assert parts.components_.min() >= 0 and not parts.decoder_bias_.any()
    assert parts.transform(swimmer).min() >= 0
    similarity = metrics.match_atoms(parts.components_, nmf_parts).similarity
    assert np.median(similarity) >= 0.9 and similarity.mean() >= 0.8, np.sort(similarity)
    # the signed TopK with its bias learns contrasts around the mean instead (|cos| ~0.5 to NMF's parts)
    contrasts = _topk(False, swimmer)
    assert metrics.match_atoms(contrasts.components_, nmf_parts).similarity.mean() < 0.7


@pytest.mark.parametrize("name", models.sae_models())
def test_every_sae_takes_non_negative_and_decoder_bias(name):
    X = datasets.load("digits", scale="minmax", n_samples=200, seed=0).X
    assert {"non_negative", "decoder_bias", "resample_dead"} <= set(models.default_params(name))
    model = models.create(name, n_components=16, max_steps=40, batch_size=32, random_state=0, device="cpu",
                          non_negative=True, decoder_bias=False).fit(X)
    assert model.components_.min() >= 0, "atoms must stay non-negative"
    assert not model.decoder_bias_.any(), "no decoder bias was asked for"
    assert model.transform(X).min() >= 0, "codes must be non-negative"
    np.testing.assert_allclose(model.inverse_transform(model.transform(X[:5])),
                               model.transform(X[:5]) @ model.components_, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="decoder_bias must be True or False"):
        models.create(name, decoder_bias="no", max_steps=2, device="cpu").fit(X)


def test_nnsae_revives_its_dead_latents_on_swimmer(swimmer):
    def dead_at_end(resample_dead: bool) -> float:
        model = models.create("nnsae", n_components=32, max_steps=600, batch_size=64, random_state=0,
                              device="cpu", resample_dead=resample_dead).fit(swimmer)
        return model.history_[-1]["dead_fraction"]

    assert models.default_params("nnsae")["resample_dead"] is True
    assert dead_at_end(False) > 0.2  # a latent that dies stays dead
    assert dead_at_end(True) < 0.05


def test_sigmoid_codes_count_as_active_by_one_rule_for_l0_and_the_dead_fraction():
    X = datasets.load("digits", scale="minmax", n_samples=500, seed=0).X
    n = 25
    model = models.create("sae-kl", n_components=n, max_steps=300, random_state=0, device="cpu").fit(X)
    rows = [row for row in model.history_ if "dead_fraction" in row]
    assert any(row["dead_fraction"] > 0 for row in rows), "no dead latent: the case tests nothing"
    for row in rows:  # a latent active on a sample of the batch is not dead, so L0 <= the live latents
        assert row["l0"] <= n * (1 - row["dead_fraction"]) + 1e-6, row


def test_plateau_levels_tells_steps_from_a_smooth_fall():
    steps = [3.0] * 10 + [2.0] * 10 + [1.0] * 10
    assert metrics.plateau_levels(steps) == [3.0, 2.0, 1.0]
    assert len(metrics.plateau_levels(1 + 2 * np.exp(-np.arange(30) / 3))) == 1


def test_linear_ae_trained_as_refinetti_and_goldt_learns_the_spikes_in_steps():
    """Plain SGD from a small initialisation with lambda = w.x / sqrt(D): the loss rests on a plateau, drops
    as the strongest spike is learned, rests again, drops for the next (the paper's signature). Adam from
    the usual initialisation falls smoothly instead."""
    X = datasets.load("gaussian", n_samples=2000, seed=0, spike_strength=[100.0, 40.0]).X
    common = dict(n_components=2, bias=False, max_steps=1000, batch_size=100, log_every=20, random_state=0,
                  device="cpu")
    paper = models.create("linear-ae", optimizer="sgd", init_scale=1e-3, sqrt_d_scaling=True, learning_rate=0.2,
                          **common).fit(X)
    levels = metrics.plateau_levels([row["loss"] for row in paper.history_])
    assert len(levels) >= 3 and levels == sorted(levels, reverse=True), levels  # two drops between plateaus
    usual = models.create("linear-ae", **common).fit(X)
    assert len(metrics.plateau_levels([row["loss"] for row in usual.history_])) < 3


def test_refinetti_goldt_settings_are_checked():
    X = datasets.load("gaussian", n_samples=100, seed=0).X
    with pytest.raises(ValueError, match="optimizer must be one of"):
        models.create("ae", optimizer="rmsprop", max_steps=2, device="cpu").fit(X)
    with pytest.raises(ValueError, match="init_scale must be"):
        models.create("linear-ae", init_scale=0.0, max_steps=2, device="cpu").fit(X)


def test_kl_sae_follows_cs294a_names_and_scale():
    defaults = models.default_params("sae-kl")
    assert (defaults["sparsity_target"], defaults["sparsity_weight"], defaults["weight_decay"]) == (0.05, 3.0, 1e-4)
    X = datasets.load("digits", scale="minmax", n_samples=200, seed=0).X
    model = models.create("sae-kl", n_components=8, max_steps=1, log_every=1, sparsity_weight=0.0,
                          weight_decay=0.0, random_state=0, device="cpu").fit(X)
    first = model.history_[0]  # the notes' per-sample half squared error: d/2 times the per-entry mean
    assert first["loss"] == pytest.approx(0.5 * X.shape[1] * first["mse"], rel=1e-5)


def test_kl_sae_trains_full_batch_with_lbfgs_and_refuses_a_stack():
    from core.sweep import BatchedSAEStack

    X = datasets.load("patches", n_samples=2000, seed=0, whiten=True).X
    model = models.create("sae-kl", n_components=16, optimizer="lbfgs", max_steps=30, log_every=1,
                          random_state=0, device="cpu").fit(X)
    losses = [row["loss"] for row in model.history_]
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0]
    points = [models.create("sae-kl", optimizer="lbfgs", sparsity_target=rho, device="cpu") for rho in (0.05, 0.1)]
    with pytest.raises(ValueError, match="optimizer='lbfgs' cannot train a stack"):
        BatchedSAEStack(points, X)
