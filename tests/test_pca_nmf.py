"""PCA and NMF: scikit-learn compatibility, agreement with scikit-learn's solvers, eigenfaces, swimmer parts."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import NMF as SklearnNMF
from sklearn.decomposition import PCA as SklearnPCA
from sklearn.utils.estimator_checks import parametrize_with_checks

from core.datasets import load
from core.metrics import mmcs
from core.models.nmf import NMF
from core.models.pca import PCA
from core.training import TrainControl


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The machine's cores are shared with another test worker: a second torch thread only spins."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits().data / 16


@parametrize_with_checks([PCA(), NMF(max_steps=30)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


# -- PCA ----------------------------------------------------------------------------------------
def test_pca_matches_sklearn(digits):
    ours, theirs = PCA(n_components=20).fit(digits), SklearnPCA(n_components=20).fit(digits)
    np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_, rtol=1e-4)
    np.testing.assert_allclose(ours.explained_variance_ratio_, theirs.explained_variance_ratio_, rtol=1e-4)
    np.testing.assert_allclose(ours.singular_values_, theirs.singular_values_, rtol=1e-4)
    np.testing.assert_allclose(ours.mean_, theirs.mean_, atol=1e-6)
    # same subspace, and even the same signed axes (both flip the largest entry positive)
    np.testing.assert_allclose(ours.components_ @ ours.components_.T, np.eye(20), atol=1e-5)
    projector = ours.components_.T @ ours.components_
    np.testing.assert_allclose(projector, theirs.components_.T @ theirs.components_, atol=1e-4)
    np.testing.assert_allclose(ours.components_, theirs.components_, atol=1e-4)
    their_mse = np.mean((theirs.inverse_transform(theirs.transform(digits)) - digits) ** 2)
    assert ours.history_ == [{"step": 1, "loss": pytest.approx(their_mse, rel=1e-4), "mse": pytest.approx(their_mse, rel=1e-4)}]
    assert np.mean((ours.reconstruct(digits) - digits) ** 2) == pytest.approx(their_mse, rel=1e-4)


def test_pca_wide_data_matches_sklearn(digits):
    """Fewer samples than features (the eigenfaces case) goes through the SVD branch."""
    X = digits[:40]
    ours, theirs = PCA().fit(X), SklearnPCA().fit(X)
    assert ours.components_.shape == (40, 64)
    np.testing.assert_allclose(ours.explained_variance_[:39], theirs.explained_variance_[:39], rtol=1e-4)
    np.testing.assert_allclose(ours.components_[:39], theirs.components_[:39], atol=1e-4)
    np.testing.assert_allclose(ours.components_ @ ours.components_.T, np.eye(40), atol=1e-5)


def test_eigenfaces_mean_plus_top_components_reconstruct(digits):
    pca = PCA().fit(digits)
    np.testing.assert_allclose(pca.mean_, digits.mean(axis=0), atol=1e-6)
    assert np.all(np.diff(pca.explained_variance_) <= 1e-6)
    codes = pca.transform(digits)
    errors = []
    for k in (1, 5, 10, 20, 40):
        recon = pca.mean_ + codes[:, :k] @ pca.components_[:k]
        errors.append(np.mean((recon - digits) ** 2))
        # the error left is exactly the variance of the axes left out
        left_out = pca.explained_variance_[k:].sum() * (len(digits) - 1) / digits.size
        assert errors[-1] == pytest.approx(left_out, rel=1e-3)
    assert errors == sorted(errors, reverse=True)
    assert pca.explained_variance_ratio_[:20].sum() > 0.85  # 20 eigen-digits keep most of the variance
    np.testing.assert_allclose(pca.inverse_transform(codes), digits, atol=1e-4)  # all axes: exact


def test_pca_whiten_gives_unit_variance_codes(digits):
    pca = PCA(n_components=10, whiten=True).fit(digits)
    codes = pca.transform(digits)
    np.testing.assert_allclose(codes.var(axis=0, ddof=1), np.ones(10), rtol=1e-3)
    plain = PCA(n_components=10).fit(digits)
    np.testing.assert_allclose(pca.inverse_transform(codes), plain.reconstruct(digits), atol=1e-4)


def test_pca_weights_round_trip(digits):
    pca = PCA(n_components=8, whiten=True).fit(digits)
    loaded = PCA(n_components=8, whiten=True).set_weights(pca.get_weights(), n_features=64)
    np.testing.assert_array_equal(loaded.transform(digits), pca.transform(digits))
    np.testing.assert_array_equal(loaded.reconstruct(digits), pca.reconstruct(digits))


def test_pca_too_many_components_names_both_numbers(digits):
    with pytest.raises(ValueError, match=r"n_components=11 .*min\(10, 64\) = 10.*n_components <= 10"):
        PCA(n_components=11).fit(digits[:10])


# -- NMF ----------------------------------------------------------------------------------------
def test_nmf_reaches_sklearn_error_on_digits(digits):
    reference = SklearnNMF(16, init="nndsvda", solver="cd", max_iter=400, tol=1e-5).fit(digits)
    ours = NMF(16, max_steps=400, tol=1e-5, device="cpu").fit(digits)
    assert ours.reconstruction_err_ <= 1.02 * reference.reconstruction_err_
    assert ours.components_.shape == (16, 64) and ours.components_.min() >= 0
    # the logged mse is the same error, per entry
    assert ours.history_[-1]["mse"] * digits.size == pytest.approx(ours.reconstruction_err_**2, rel=1e-3)
    assert ours.history_[-1]["step"] == ours.n_iter_
    # transform re-solves the codes with H fixed: about as good as the codes of the fit
    codes = ours.transform(digits)
    assert codes.min() >= 0
    assert np.linalg.norm(ours.inverse_transform(codes) - digits) <= 1.001 * ours.reconstruction_err_


def test_nmf_regularisation_follows_sklearn(digits):
    X, params = digits[:300], dict(alpha_W=1e-3, l1_ratio=0.5)
    reference = SklearnNMF(8, init="nndsvda", solver="cd", max_iter=300, tol=0, **params).fit(X)
    ours = NMF(8, max_steps=300, tol=0, device="cpu", **params).fit(X)

    def objective(W, H):  # scikit-learn's documented objective
        n_samples, n_features = X.shape
        l1, l2 = params["alpha_W"] * params["l1_ratio"], params["alpha_W"] * (1 - params["l1_ratio"])
        return (0.5 * np.sum((X - W @ H) ** 2) + n_features * (l1 * W.sum() + 0.5 * l2 * np.sum(W**2))
                + n_samples * (l1 * H.sum() + 0.5 * l2 * np.sum(H**2)))

    theirs_value = objective(reference.transform(X), reference.components_)
    ours_value = objective(ours.transform(X), ours.components_)
    assert ours_value <= 1.02 * theirs_value
    assert ours.history_[-1]["loss"] == pytest.approx(2 * ours_value / X.size, rel=0.02)
    assert ours.history_[-1]["loss"] > ours.history_[-1]["mse"]


def test_nmf_recovers_swimmer_parts():
    # Swimmer's torso is in every image, so NMF has bad local minima; as users do, keep the best of a few
    # random restarts (lowest reconstruction error). The exact factorisation found then shows the parts.
    data = load("swimmer")
    fits = [NMF(n_components=len(data.truth), init="random", random_state=seed).fit(data.X) for seed in range(5)]
    best = min(fits, key=lambda fit: fit.reconstruction_err_)
    assert best.reconstruction_err_ < 1e-2 * np.linalg.norm(data.X)
    assert mmcs(data.truth, best.components_) >= 0.9


def test_nmf_rejects_negative_data_clearly(digits):
    with pytest.raises(ValueError, match=r"Negative values in data passed to NMF.*-1.*minmax"):
        NMF(4).fit(digits - 1)


def test_nmf_nan_input_gets_sklearn_error(digits):
    X = digits.copy()
    X[3, 5] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        NMF(4).fit(X)


@pytest.mark.parametrize("init", ["random", "nndsvdar", "nndsvda"])
def test_nmf_same_seed_same_components(digits, init):
    X = digits[:200]
    first = NMF(6, init=init, random_state=3, max_steps=20, device="cpu").fit(X).components_
    again = NMF(6, init=init, random_state=3, max_steps=20, device="cpu").fit(X).components_
    np.testing.assert_array_equal(first, again)
    if init != "nndsvda":  # the random inits depend on the seed
        other = NMF(6, init=init, random_state=4, max_steps=20, device="cpu").fit(X).components_
        assert not np.array_equal(first, other)


def test_nmf_stops_early_at_tol(digits):
    X = digits[:300]
    early = NMF(8, tol=1e-2, max_steps=200).fit(X)
    assert early.n_iter_ < 200 and early.n_iter_ % 10 == 0
    assert early.history_[-1]["step"] == early.n_iter_ == early.n_steps_
    assert NMF(8, tol=0, max_steps=25).fit(X).n_iter_ == 25


def test_nmf_mu_decreases_the_loss_every_step(digits):
    nmf = NMF(8, solver="mu", max_steps=30, tol=0, log_every=1).fit(digits[:300])
    losses = [row["loss"] for row in nmf.history_]
    assert all(b <= a * (1 + 1e-5) for a, b in zip(losses, losses[1:]))


def test_nmf_nndsvd_refuses_more_components_than_it_can_fill(digits):
    with pytest.raises(ValueError, match=r"init='nndsvd'.*min\(n_samples, n_features\) = 5.*nndsvda"):
        NMF(8, init="nndsvd").fit(digits[:5])
    assert NMF(8).fit(digits[:5]).components_.shape == (8, 64)  # nndsvda pads with the mean


def test_nmf_live_regularisation(digits):
    control, nmf = TrainControl(), NMF(8, max_steps=40, tol=0)
    for row in nmf.fit_iter(digits[:300], control):
        if row["step"] == 10:
            control.update(alpha_W=0.01, l1_ratio=1.0)
    assert nmf.history_[1]["event"] == {"alpha_W": 0.01, "l1_ratio": 1.0}
    assert nmf.history_[-1]["loss"] > nmf.history_[-1]["mse"]
    with pytest.raises(ValueError, match="cannot change during a run"):
        nmf._apply_live_updates({"solver": "mu"})
