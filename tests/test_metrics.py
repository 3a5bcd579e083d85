"""core.metrics: every metric against a hand-computed case, plus property tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.decomposition import PCA

from core import metrics
from core.metrics import (
    AtomMatching,
    cosine_similarity_matrix,
    dead_fraction,
    density_histogram,
    evaluate,
    feature_density,
    fvu,
    hoyer_sparseness,
    l0,
    match_atoms,
    mcc,
    mean_hoyer,
    mmcs,
    mse,
    pca_mse,
)

X = np.array([[1.0, 2.0], [3.0, 4.0]])
X_HAT = np.array([[1.0, 1.0], [3.0, 6.0]])  # residuals 0, 1, 0, -2
CODES = np.array([[0.0, 2.0, 0.0, -1.0], [0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 3.0]])

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
shapes = st.tuples(st.integers(1, 6), st.integers(1, 6))


# -- reconstruction ---------------------------------------------------------------------------------------
def test_mse_by_hand():
    assert mse(X, X_HAT) == pytest.approx((0 + 1 + 0 + 4) / 4)


def test_fvu_by_hand():
    # feature means (2, 3); squared deviations 1 + 1 + 1 + 1 = 4; residual 5.
    assert fvu(X, X_HAT) == pytest.approx(5 / 4)
    assert fvu(X, np.tile(X.mean(axis=0), (2, 1))) == pytest.approx(1.0)


def test_fvu_of_constant_data():
    constant = np.ones((3, 2))
    assert fvu(constant, constant) == 0.0
    assert fvu(constant, constant + 1) == float("inf")


def test_torch_tensors_and_shape_mismatch():
    assert mse(torch.tensor(X, requires_grad=True), torch.tensor(X_HAT)) == pytest.approx(1.25)
    assert l0(torch.tensor(CODES, dtype=torch.bfloat16)) == pytest.approx(4 / 3)
    with pytest.raises(ValueError, match="shape"):
        mse(X, X_HAT[:1])
    with pytest.raises(ValueError, match="2-D"):
        fvu(X[0], X_HAT[0])


# -- sparsity -----------------------------------------------------------------------------------------------
def test_l0_density_dead_by_hand():
    assert l0(CODES) == pytest.approx((2 + 1 + 1) / 3)
    assert l0(CODES, threshold=0.75) == pytest.approx((2 + 0 + 1) / 3)
    np.testing.assert_allclose(feature_density(CODES), [0, 2 / 3, 0, 2 / 3])
    assert feature_density(CODES).sum() == pytest.approx(l0(CODES))
    assert dead_fraction(CODES) == pytest.approx(0.5)
    assert dead_fraction(CODES, threshold=2.5) == pytest.approx(0.75)


def test_density_histogram():
    codes = np.zeros((100, 5))
    codes[:, 0] = 1.0  # density 1 -> log10 0
    codes[:10, 1] = 1.0  # density 0.1 -> log10 -1
    codes[:1, 2] = 1.0  # density 0.01 -> log10 -2
    hist = density_histogram(codes, bins=4)
    assert hist.n_dead == 2 and hist.n_latents == 5
    np.testing.assert_allclose(hist.edges, [-2.0, -1.5, -1.0, -0.5, 0.0])
    np.testing.assert_array_equal(hist.counts, [1, 0, 1, 1])


def test_hoyer_by_hand():
    rows = np.array([[0.0, 0.0, 5.0, 0.0], [1.0, -1.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0], [3.0, 4.0, 0.0, 0.0]])
    expected_last = (2.0 - 7.0 / 5.0) / (2.0 - 1.0)  # sqrt(4) = 2, l1 = 7, l2 = 5
    np.testing.assert_allclose(hoyer_sparseness(rows), [1.0, 0.0, 0.0, expected_last])
    np.testing.assert_allclose(hoyer_sparseness(rows.T, axis=0), hoyer_sparseness(rows))
    assert mean_hoyer(rows) == pytest.approx((1.0 + expected_last) / 4)
    np.testing.assert_array_equal(hoyer_sparseness(np.ones((3, 1))), [0.0, 0.0, 0.0])


# -- dictionary recovery ------------------------------------------------------------------------------------
def test_cosine_similarity_by_hand():
    A = np.array([[1.0, 0.0], [0.0, 0.0]])
    B = np.array([[-1.0, 1.0], [2.0, 0.0]])
    np.testing.assert_allclose(cosine_similarity_matrix(A, B, absolute=False), [[-1 / np.sqrt(2), 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(cosine_similarity_matrix(A, B), [[1 / np.sqrt(2), 1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="features"):
        cosine_similarity_matrix(A, np.ones((1, 3)))


def test_matching_recovers_permuted_sign_flipped_copy():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(6, 20))
    permutation = np.array([3, 0, 5, 1, 4, 2])
    signs = np.array([1, -1, -1, 1, -1, 1])[:, None]
    learned = 2.5 * signs * truth[permutation]  # learned[k] = +-truth[permutation[k]]
    matching = match_atoms(truth, learned)
    assert isinstance(matching, AtomMatching)
    np.testing.assert_allclose(matching.similarity, 1.0)
    np.testing.assert_array_equal(permutation[matching.cols], matching.rows)
    assert matching.unmatched_a.size == 0 and matching.unmatched_b.size == 0
    assert mcc(truth, learned) == pytest.approx(1.0)


def test_matching_with_different_counts():
    A = np.eye(3)
    B = np.array([[0.0, 0.0, 2.0], [1.0, 1.0, 0.0]])  # |cos| with e0, e1 is 1/sqrt(2)
    matching = match_atoms(A, B)
    np.testing.assert_allclose(matching.similarity, [1.0, 1 / np.sqrt(2)])
    assert matching.rows[0] == 2 and matching.cols[0] == 0 and matching.cols[1] == 1
    assert matching.unmatched_a.size == 1 and matching.unmatched_a[0] in (0, 1)
    assert matching.unmatched_b.size == 0
    assert match_atoms(B, A).unmatched_b.size == 1


def _greedy_total(similarity: np.ndarray) -> float:
    """Total of the greedy matching: take the largest |cos| left, drop its row and column, repeat."""
    similarity, total = similarity.copy(), 0.0
    for _ in range(min(similarity.shape)):
        i, j = np.unravel_index(np.argmax(similarity), similarity.shape)
        total += similarity[i, j]
        similarity[i, :], similarity[:, j] = -np.inf, -np.inf
    return total


def test_matching_is_the_optimal_assignment_where_greedy_pairing_is_not():
    # |cos| table [[0.7, 0.65], [0.65, 0]]: greedy takes 0.7 first and is left with 0 (total 0.7); the
    # optimal one-to-one pairing crosses over (0.65 + 0.65 = 1.3)
    A = np.array([[0.7, 0.65, np.sqrt(1 - 0.7**2 - 0.65**2)], [0.65, 0.0, np.sqrt(1 - 0.65**2)]])
    B = np.array([[2.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    matching = match_atoms(A, B)
    assert dict(zip(matching.rows.tolist(), matching.cols.tolist())) == {0: 1, 1: 0}
    np.testing.assert_allclose(matching.similarity, [0.65, 0.65])
    assert mcc(A, B) == pytest.approx(0.65)


def test_matching_total_equals_scipys_optimal_assignment_on_random_atoms():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(7)
    A, B = rng.normal(size=(12, 10)), rng.normal(size=(15, 10))
    similarity = cosine_similarity_matrix(A, B)
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    optimal = similarity[rows, cols].sum()
    assert optimal > _greedy_total(similarity) + 0.05  # a case where greedy pairing falls short
    matching = match_atoms(A, B)
    assert matching.similarity.sum() == pytest.approx(optimal)
    np.testing.assert_allclose(similarity[matching.rows, matching.cols], matching.similarity)
    assert dict(zip(matching.rows.tolist(), matching.cols.tolist())) == dict(zip(rows.tolist(), cols.tolist()))


def test_mmcs_and_mcc_differ_when_atoms_share_a_match():
    truth = np.array([[1.0, 0.0], [0.8, 0.6]])
    learned = np.array([[1.0, 0.0], [0.0, 1.0]])
    # Both true atoms are closest to learned[0]: cos 1 and 0.8. One-to-one, the second gets learned[1]: 0.6.
    assert mmcs(truth, learned) == pytest.approx((1.0 + 0.8) / 2)
    assert mcc(truth, learned) == pytest.approx((1.0 + 0.6) / 2)


# -- PCA baseline ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_components", [1, 3, 5])
def test_pca_mse_equals_sklearn_reconstruction_error(n_components):
    rng = np.random.default_rng(1)
    data = rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5)) + 3.0
    pca = PCA(n_components=n_components, svd_solver="full").fit(data)
    reconstruction = pca.inverse_transform(pca.transform(data))
    assert pca_mse(data, n_components) == pytest.approx(mse(data, reconstruction), rel=1e-9, abs=1e-12)


def test_pca_mse_by_hand_and_clamped():
    data = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])  # centred, eigen-directions e0, e1
    assert pca_mse(data, 0) == pytest.approx((2 + 8) / 8)
    assert pca_mse(data, 1) == pytest.approx(2 / 8)  # keeps e1 (sum of squares 8), drops e0 (2)
    assert pca_mse(data, 10) == pytest.approx(0.0, abs=1e-12)
    assert pca_mse(data + 5.0, 0, center=False) > pca_mse(data + 5.0, 0)
    with pytest.raises(ValueError, match="n_components"):
        pca_mse(data, -1)


# -- evaluate -----------------------------------------------------------------------------------------------
class _HalvingModel:
    """codes = X / 2 with the second code switched off; reconstruction = codes (so X_hat = [x0 / 2, 0])."""

    components_ = np.array([[1.0, 0.0], [0.0, 1.0]])

    def __init__(self):
        self.transform_calls = 0

    def transform(self, X):
        self.transform_calls += 1
        codes = X / 2
        codes[:, 1] = 0.0
        return codes

    def inverse_transform(self, codes):
        return np.asarray(codes)


def test_evaluate_by_hand():
    model = _HalvingModel()
    result = evaluate(model, X)
    assert set(result) == {"mse", "fvu", "l0", "dead_fraction", "hoyer_atoms", "hoyer_codes"}
    assert all(type(value) is float for value in result.values())
    assert model.transform_calls == 1
    # X_hat = [[0.5, 0], [1.5, 0]]; residuals 0.5, 2, 1.5, 4 -> 0.25 + 4 + 2.25 + 16 = 22.5
    assert result["mse"] == pytest.approx(22.5 / 4)
    assert result["fvu"] == pytest.approx(22.5 / 4)
    assert result["l0"] == 1.0 and result["dead_fraction"] == 0.5
    assert result["hoyer_atoms"] == 1.0 and result["hoyer_codes"] == 1.0
    evaluate(model, X, codes=model.transform(X))
    assert model.transform_calls == 2  # given codes: no second transform inside evaluate


def test_evaluate_fitted_sklearn_pca():
    data = np.random.default_rng(2).normal(size=(30, 4))
    result = evaluate(PCA(n_components=2).fit(data), data)
    assert result["mse"] == pytest.approx(pca_mse(data, 2))
    assert 0.0 < result["fvu"] < 1.0


# -- properties ---------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(shapes.flatmap(lambda shape: st.tuples(*[arrays(np.float64, shape, elements=finite)] * 2)))
def test_fvu_is_non_negative_and_zero_for_perfect_reconstruction(pair):
    data, reconstruction = pair
    assert fvu(data, reconstruction) >= 0.0
    assert fvu(data, data) == 0.0
    assert mse(data, data) == 0.0


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, shapes, elements=finite))
def test_hoyer_is_in_unit_interval(A):
    values = hoyer_sparseness(A)
    assert values.shape == (A.shape[0],)
    assert np.all((values >= 0.0) & (values <= 1.0))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_matching_is_a_partial_permutation(n_a, n_b, n_features, seed):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n_a, n_features)), rng.normal(size=(n_b, n_features))
    matching = match_atoms(A, B)
    k = min(n_a, n_b)
    assert len(matching.rows) == len(matching.cols) == k
    np.testing.assert_array_equal(np.sort(np.concatenate([matching.rows, matching.unmatched_a])), np.arange(n_a))
    np.testing.assert_array_equal(np.sort(np.concatenate([matching.cols, matching.unmatched_b])), np.arange(n_b))
    assert np.all(np.diff(matching.similarity) <= 0)
    assert 0.0 <= mcc(A, B) <= 1.0
    if n_b >= n_a:
        assert mmcs(A, B) >= mcc(A, B) - 1e-12


def test_public_names_exist():
    assert all(hasattr(metrics, name) for name in metrics.__all__)


def test_pca_mse_by_rank_is_one_svd_for_many_ranks_and_rank_zero_is_the_total():
    X = np.random.default_rng(3).standard_normal((40, 12)).astype(np.float32) * np.arange(1, 13)
    by_rank = metrics.pca_mse_by_rank(X, [0, 1, 5, 12, 30])
    for rank in (1, 5, 12, 30):
        assert by_rank[rank] == pytest.approx(metrics.pca_mse(X, rank), rel=1e-9)
    centred = X.astype(np.float64) - X.mean(0, dtype=np.float64)
    assert by_rank[0] == pytest.approx(float(np.mean(centred ** 2)), rel=1e-9)
    assert by_rank[0] > by_rank[1] > by_rank[5] > by_rank[12] == pytest.approx(0.0, abs=1e-9) == by_rank[30]
    with pytest.raises(ValueError, match="n_components must be >= 0"):
        metrics.pca_mse_by_rank(X, [2, -1])


@pytest.mark.parametrize("shape", [(60, 9), (9, 60)])  # tall and wide: the Gram matrix of either side
def test_pca_mse_matches_the_singular_values(shape):
    X = np.random.default_rng(5).standard_normal(shape)
    singular = np.linalg.svd(X - X.mean(0), compute_uv=False)
    for rank in range(0, min(shape) + 2):
        expected = float(np.sum(singular[rank:] ** 2) / X.size)
        assert metrics.pca_mse(X, rank) == pytest.approx(expected, rel=1e-9, abs=1e-12)
