"""Issue 22's models: Matryoshka BatchTopK (each prefix reconstructs on its own), the Gated SAE (no L1
shrinkage of the codes that fire), and Anthropic's resampling of dead latents for the L1, KL and
non-negative SAEs (the dead fraction before and after)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import datasets, models
from core.models.sae import _draw_by_squared_error
from core.models.sae_matryoshka import prefix_sizes

SETTINGS = dict(n_components=64, max_steps=600, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def X():
    return datasets.load("digits", scale="minmax", n_samples=1000, seed=0).X


def _fvu(X, X_hat):
    return float(((X - X_hat) ** 2).sum() / ((X - X.mean(0)) ** 2).sum())


def test_prefix_sizes_double_up_to_the_whole_dictionary():
    assert prefix_sizes(64, 4) == [8, 16, 32, 64]
    assert prefix_sizes(64, 1) == [64]
    assert prefix_sizes(3, 4) == [1, 2, 3]  # sizes below 1 merge


def test_matryoshka_first_atoms_reconstruct_on_their_own_where_batchtopks_do_not(X):
    def first_atoms_fvu(name):
        model = models.create(name, k=8, **SETTINGS).fit(X)
        codes = model.transform(X)
        return _fvu(X, codes[:, :8] @ model.components_[:8] + model.decoder_bias_), model

    nested, matryoshka = first_atoms_fvu("sae-matryoshka")
    flat, batchtopk = first_atoms_fvu("sae-batchtopk")
    assert nested < 0.6 and flat > 0.8, (nested, flat)  # measured: 0.39 against 0.93
    # the whole dictionary still reconstructs about as well
    whole = [_fvu(X, m.inverse_transform(m.transform(X))) for m in (matryoshka, batchtopk)]
    assert whole[0] < whole[1] + 0.1, whole
    assert any("prefix_mse" in row for row in matryoshka.history_)
    one_group = models.create("sae-matryoshka", k=8, n_groups=1, **{**SETTINGS, "max_steps": 50}).fit(X)
    plain = models.create("sae-batchtopk", k=8, **{**SETTINGS, "max_steps": 50}).fit(X)
    np.testing.assert_allclose(one_group.components_, plain.components_, atol=1e-6)  # n_groups=1 is BatchTopK


def _shrinkage(model, X):
    """The relative reconstruction bias gamma of Rajamanoharan et al.: argmin_g ||x - b - g (x_hat - b)||^2;
    above 1 when codes are shrunk (the reconstruction falls short of the data)."""
    centred, reconstructed = X - model.decoder_bias_, model.inverse_transform(model.transform(X)) - model.decoder_bias_
    return float((centred * reconstructed).sum() / (reconstructed ** 2).sum())


def test_gated_sae_does_not_shrink_its_codes_as_the_l1_sae_does(X):
    gated = models.create("sae-gated", l1_coef=1e-2, **SETTINGS).fit(X)
    l1 = models.create("sae-l1", l1_coef=1e-2, **SETTINGS).fit(X)
    assert _shrinkage(l1, X) > 1.15 and abs(_shrinkage(gated, X) - 1) < 0.05, (_shrinkage(l1, X), _shrinkage(gated, X))
    assert _fvu(X, gated.inverse_transform(gated.transform(X))) < _fvu(X, l1.inverse_transform(l1.transform(X)))
    assert {"l1", "aux_mse"} <= set(gated.history_[-1])
    assert gated.magnitude_scale_.shape == gated.magnitude_bias_.shape == gated.encoder_bias_.shape


@pytest.mark.parametrize("name, params, before_at_least, after_at_most", [
    ("sae-l1", {"l1_coef": 3e-2}, 0.2, 0.08),   # measured: 0.28 -> 0.03
    ("sae-kl", {}, 0.9, 0.6),                   # measured: 1.00 -> 0.50
    ("nnsae", {}, 0.2, 0.08),
])
def test_resampling_revives_dead_latents(name, params, before_at_least, after_at_most, X):
    def dead_at_end(resample_dead):
        model = models.create(name, dead_window=512, resample_dead=resample_dead, **SETTINGS, **params).fit(X)
        return model.history_[-1]["dead_fraction"]

    before, after = dead_at_end(False), dead_at_end(True)
    assert before >= before_at_least and after <= after_at_most, (before, after)


def test_resampling_draws_samples_in_proportion_to_their_squared_error():
    residual = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0], [3.0, 0.0]])  # squared errors 1, 4, 0, 9
    firsts = np.bincount([int(_draw_by_squared_error(residual, step)[0]) for step in range(3000)], minlength=4)
    np.testing.assert_allclose(firsts / firsts.sum(), [1 / 14, 4 / 14, 0, 9 / 14], atol=0.03)
    stacked = torch.stack([residual, residual.flip(0)])  # a stack draws with the same noise as alone
    assert torch.equal(_draw_by_squared_error(stacked, 7)[0], _draw_by_squared_error(residual, 7))
