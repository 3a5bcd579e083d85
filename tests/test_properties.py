"""Hypothesis properties of the loaders and the metrics.

Loaders: any finite float array round-trips exactly through .npy and .npz bytes and through .csv text;
any bytes at all (random, or a valid file with bytes flipped, cut or spliced) under any supported name
either load as a clean finite float32 matrix or raise ``DatasetError``, never anything else, and never
unpickle. Metrics: FVU >= 0 (0 exactly for a perfect reconstruction), ``match_atoms`` pairs atoms one to
one, MMCS lies in [0, 1] and ignores the sign and order of the atoms.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bad_inputs import MARKER, image, npy, npz, zipped
from core import datasets, metrics

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
finite32 = st.floats(-float(np.float32(1e30)), float(np.float32(1e30)), allow_nan=False, allow_infinity=False, width=32)
matrices = arrays(np.float32, st.tuples(st.integers(2, 12), st.integers(1, 9)), elements=finite32)
SUFFIXES = [".npy", ".npz", ".csv", ".zip"]


@pytest.fixture(autouse=True, scope="module")
def nothing_is_unpickled():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists()


# -- round trips ---------------------------------------------------------------------------------------------
@SETTINGS
@given(matrices)
def test_any_finite_array_round_trips_through_npy_and_npz_bytes(X):
    for data, name in ((npy(X), "x.npy"), (npz(X=X), "x.npz")):
        loaded = datasets.load_bytes(data, name)
        assert loaded.X.dtype == np.float32
        np.testing.assert_array_equal(loaded.X, X)


@SETTINGS
@given(matrices, st.sampled_from([",", ";", "\t", " "]), st.booleans())
def test_any_finite_array_round_trips_through_csv_text(X, delimiter, header):
    lines = [delimiter.join(f"c{j}" for j in range(X.shape[1]))] if header else []
    lines += [delimiter.join(np.format_float_positional(v, unique=True) if abs(v) < 1e6 else repr(float(v))
                             for v in row) for row in X]
    loaded = datasets.load_bytes(("\n".join(lines) + "\n").encode(), "x.csv")
    np.testing.assert_array_equal(loaded.X, X)


# -- any bytes: a clean matrix or DatasetError ---------------------------------------------------------------
def _load_or_dataset_error(data: bytes, name: str) -> None:
    try:
        ds = datasets.load_bytes(data, name)
    except datasets.DatasetError as error:
        assert str(error)
        return
    assert ds.X.dtype == np.float32 and ds.X.ndim == 2 and ds.X.shape[0] >= 2 and np.isfinite(ds.X).all()


@SETTINGS
@given(st.binary(max_size=2048), st.sampled_from(SUFFIXES))
def test_random_bytes_never_raise_anything_but_dataset_error(data, suffix):
    _load_or_dataset_error(data, f"upload{suffix}")


def _valid_files() -> dict[str, bytes]:
    X = np.random.default_rng(0).random((6, 4))
    return {
        ".npy": npy(X), ".npz": npz(X=X, y=X[:, 0]), ".csv": b"a,b,c,d\n" + b"\n".join(
            b",".join(b"%.3f" % v for v in row) for row in X) + b"\n",
        ".zip": zipped({"d/a.png": image(5, 5, 10), "d/b.png": image(5, 5, 200), "e/c.jpg": image(5, 6, fmt="JPEG")}),
        ".zip-stored": zipped({"a.png": image(4, 4, 1), "b.png": image(4, 4, 2)}, compression=zipfile.ZIP_STORED),
    }


VALID = _valid_files()


@SETTINGS
@given(st.sampled_from(sorted(VALID)), st.data())
def test_damaged_valid_files_never_raise_anything_but_dataset_error(kind, data):
    raw = bytearray(VALID[kind])
    how = data.draw(st.sampled_from(["flip", "cut", "splice", "zero-run"]))
    if how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            position = data.draw(st.integers(0, len(raw) - 1))
            raw[position] = data.draw(st.integers(0, 255))
    elif how == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "splice":
        position = data.draw(st.integers(0, len(raw)))
        raw[position:position] = data.draw(st.binary(min_size=1, max_size=64))
    else:
        start = data.draw(st.integers(0, len(raw) - 1))
        raw[start:start + data.draw(st.integers(1, 64))] = b"\0" * 64
    _load_or_dataset_error(bytes(raw), "upload" + kind.split("-")[0])


# -- metrics -------------------------------------------------------------------------------------------------
finite64 = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def atoms_and_shuffle(draw):
    n_atoms, n_features = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    A = draw(arrays(np.float64, (n_atoms, n_features), elements=finite64))
    order = np.array(draw(st.permutations(range(n_atoms))))
    signs = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n_atoms, max_size=n_atoms)))
    return A, order, signs


@SETTINGS
@given(arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 5)), elements=finite64), st.data())
def test_fvu_is_non_negative_and_zero_exactly_for_a_perfect_reconstruction(X, data):
    X_hat = data.draw(arrays(np.float64, X.shape, elements=finite64))
    assert metrics.fvu(X, X_hat) >= 0
    assert metrics.fvu(X, X) == 0
    assume(np.var(X, axis=0).sum() > 1e-6)
    column_means = np.broadcast_to(X.mean(axis=0), X.shape)
    assert metrics.fvu(X, column_means) == pytest.approx(1.0)  # the best constant explains nothing


@SETTINGS
@given(atoms_and_shuffle(), st.data())
def test_match_atoms_is_a_permutation_and_undoes_a_shuffle(shuffled, data):
    A, order, signs = shuffled
    B = signs[:, None] * A[order]
    matching = metrics.match_atoms(A, B)
    assert sorted(matching.rows.tolist()) == list(range(len(A)))
    assert sorted(matching.cols.tolist()) == list(range(len(B)))
    assert np.all(np.diff(matching.similarity) <= 1e-12)  # best match first
    nonzero = np.linalg.norm(A, axis=1) > 1e-6
    assume(nonzero.all())
    # every atom is matched with a copy of itself, up to sign: similarity 1 (ties among parallel atoms allowed)
    np.testing.assert_allclose(matching.similarity, 1.0, atol=1e-9)
    other = data.draw(arrays(np.float64, (data.draw(st.integers(1, 7)), A.shape[1]), elements=finite64))
    partial = metrics.match_atoms(A, other)
    k = min(len(A), len(other))
    assert len(partial.rows) == len(set(partial.rows.tolist())) == k
    assert len(partial.cols) == len(set(partial.cols.tolist())) == k
    assert len(partial.unmatched_a) == len(A) - k and len(partial.unmatched_b) == len(other) - k


@SETTINGS
@given(atoms_and_shuffle(), st.data())
def test_mmcs_is_in_the_unit_interval_and_ignores_sign_and_order(shuffled, data):
    true, order, signs = shuffled
    learned = data.draw(arrays(np.float64, (data.draw(st.integers(1, 7)), true.shape[1]), elements=finite64))
    score = metrics.mmcs(true, learned)
    assert 0.0 <= score <= 1.0
    flipped = np.array(data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=len(learned), max_size=len(learned))))
    permutation = np.array(data.draw(st.permutations(range(len(learned)))))
    assert metrics.mmcs(true, flipped[:, None] * learned[permutation]) == pytest.approx(score, abs=1e-12)
    assert metrics.mmcs(signs[:, None] * true[order], learned) == pytest.approx(score, abs=1e-12)
    if (np.linalg.norm(true, axis=1) > 1e-6).all():
        assert metrics.mmcs(true, true) == pytest.approx(1.0)
