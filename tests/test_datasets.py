"""Tests for core.datasets: built-ins, preprocessing, files, uploads and online sets (folders and archives of
images: tests/test_datasets_images.py)."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from datasets_fixtures import (  # noqa: F401  (offline_cache is an autouse fixture)
    image_bytes,
    offline_cache,
    save_online_cache,
)

import core.datasets as datasets
from core.datasets import DatasetError, load, load_bytes

OFFLINE_SETS = [name for name in datasets.available() if name not in datasets.ONLINE_DATASETS]


# ----------------------------------------------------------------------------------------------- registry


def test_available_lists_digits_first_and_every_set_is_described():
    names = datasets.available()
    assert names[0] == "digits"
    assert {"faces", "patches", "swimmer", "bars", "sparse-synthetic", "gaussian", "olivetti", "mnist"} <= set(names)
    assert set(datasets.DATASET_OPTIONS) == set(names)
    for name in names:
        line = datasets.describe(name)
        assert line and "\n" not in line
    assert datasets.DATASET_OPTIONS["patches"]["patch_size"] == 8


@pytest.mark.parametrize("name", OFFLINE_SETS)
def test_every_offline_builtin_gives_a_clean_float32_matrix(name):
    data = load(name, n_samples=40)
    assert data.X.shape[0] == 40 and data.X.dtype == np.float32 and data.X.flags.c_contiguous
    assert np.isfinite(data.X).all()
    if data.image_shape is not None:
        assert data.image_shape[0] * data.image_shape[1] == data.n_features
    if data.labels is not None:
        assert data.labels.shape == (40,) and data.labels.dtype.kind == "i"
    if data.truth is not None:
        assert data.truth.shape[1] == data.n_features
    assert data.options["n_samples"] == 40 and data.options["seed"] == 0


def test_digits_are_scaled_to_unit_range_with_labels():
    data = load("digits")
    assert data.X.shape == (1797, 64) and data.image_shape == (8, 8)
    assert data.X.min() == 0.0 and data.X.max() == 1.0
    assert set(np.unique(data.labels)) == set(range(10))


def test_faces_with_non_faces_has_100_faces_then_100_non_faces():
    data = load("faces", include_non_faces=True)
    assert data.X.shape == (200, 625) and data.image_shape == (25, 25)
    assert 0.0 <= data.X.min() and data.X.max() <= 1.0
    assert data.labels[:100].tolist() == [1] * 100 and data.labels[100:].tolist() == [0] * 100


# ----------------------------------------------------------------------------------------------- patches


def test_patches_default_to_the_cs294a_range_and_honour_patch_size():
    data = load("patches", n_samples=500, patch_size=6)
    assert data.X.shape == (500, 36) and data.image_shape == (6, 6)
    assert data.X.min() >= 0.1 - 1e-6 and data.X.max() <= 0.9 + 1e-6
    assert data.options["patch_size"] == 6 and data.options["whiten"] is False


def test_zca_whitening_gives_identity_covariance_off_the_removed_dc_direction():
    data = load("patches", n_samples=8000, whiten=True, epsilon=1e-9)
    covariance = np.cov(data.X.T.astype(np.float64))
    d = data.n_features
    # Per-patch DC removal kills one direction (the all-ones vector); every other one has unit variance.
    expected = np.eye(d) - np.ones((d, d)) / d
    np.testing.assert_allclose(covariance, expected, atol=0.02)


def test_larger_epsilon_low_passes_the_whitened_patches():
    sharp = load("patches", n_samples=2000, whiten=True, epsilon=1e-6).X.var()
    smooth = load("patches", n_samples=2000, whiten=True, epsilon=1e-1).X.var()
    assert smooth < 0.5 * sharp


# ----------------------------------------------------------------------------------------------- synthetic


def test_swimmer_images_are_exactly_torso_plus_one_part_per_limb():
    data = load("swimmer")
    X, parts = data.X, data.truth
    assert X.shape == (256, 1024) and parts.shape == (17, 1024) and data.image_shape == (32, 32)
    assert (parts >= 0).all() and set(np.unique(X)) == {0.0, 1.0}
    assert len(np.unique(X, axis=0)) == 256  # every pose once
    present = (X @ parts.T == parts.sum(axis=1)).astype(np.float32)  # part fully inside the image
    assert present[:, 0].all() and (present[:, 1:].reshape(256, 4, 4).sum(axis=2) == 1).all()
    np.testing.assert_array_equal(present @ parts, X)


def test_bars_are_an_or_of_bars_with_the_requested_probability():
    data = load("bars", n_samples=3000, size=5, bar_probability=0.2)
    assert data.X.shape == (3000, 25) and data.truth.shape == (10, 25) and data.image_shape == (5, 5)
    assert set(np.unique(data.X)) <= {0.0, 1.0}
    np.testing.assert_array_equal(data.truth.sum(axis=1), np.full(10, 5.0))
    # A pixel is on when its row bar or its column bar is on.
    assert abs(data.X.mean() - (1 - 0.8**2)) < 0.02


@pytest.mark.parametrize("non_negative", [False, True])
def test_sparse_synthetic_samples_use_exactly_k_unit_norm_atoms(non_negative):
    data = load("sparse-synthetic", n_samples=300, n_features=20, n_atoms=10, k=3, noise=0.0, non_negative=non_negative)
    D = data.truth
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0, atol=1e-5)
    codes = data.X @ np.linalg.pinv(D)  # exact: D has full row rank and there is no noise
    active = np.abs(codes) > 1e-3
    assert (active.sum(axis=1) == 3).all()
    assert np.abs(codes[active]).min() > 0.49 and np.abs(codes[active]).max() < 1.51
    if non_negative:
        assert (D >= 0).all() and (data.X >= 0).all() and (codes[active] > 0).all()


def test_gaussian_principal_components_are_the_spikes():
    data = load("gaussian", n_samples=4000, n_features=50)
    spikes = data.truth.astype(np.float64)
    assert data.image_shape is None and spikes.shape == (4, 50)
    np.testing.assert_allclose(spikes @ spikes.T, np.eye(4), atol=1e-5)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(data.X.T.astype(np.float64)))
    top = eigenvectors[:, ::-1][:, :4]
    overlap = np.abs(spikes @ top)  # spike m against component m: strengths are distinct
    assert (np.diag(overlap) > 0.9).all()
    np.testing.assert_allclose(eigenvalues[::-1][:4], [11.0, 8.5, 6.0, 3.5], rtol=0.15)


def test_gaussian_accepts_a_list_of_spike_strengths():
    data = load("gaussian", n_samples=50, spike_strength=[3.0, 20.0])
    assert data.truth.shape == (2, 100) and "20, 3" in data.description


# ----------------------------------------------------------------------------------------------- options


@pytest.mark.parametrize("name", ["digits", "patches", "sparse-synthetic"])
def test_same_seed_same_data_other_seed_other_data(name):
    first, again, other = (load(name, n_samples=100, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(first.X, again.X)
    assert not np.array_equal(first.X, other.X)


def test_subset_keeps_labels_aligned_with_rows():
    full, part = load("digits"), load("digits", n_samples=200, seed=1)
    rows = [np.flatnonzero((full.X == row).all(axis=1))[0] for row in part.X[:20]]
    np.testing.assert_array_equal(full.labels[rows], part.labels[:20])


def test_scale_and_center():
    minmax = load("gaussian", n_samples=300, scale="minmax").X
    assert minmax.min() == 0.0 and abs(minmax.max() - 1.0) < 1e-6
    standard = load("digits", scale="standard").X  # digits has always-zero pixels: they must stay finite
    assert np.isfinite(standard).all()
    used = standard.std(axis=0) > 0
    np.testing.assert_allclose(standard.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(standard.std(axis=0)[used], 1.0, atol=1e-4)
    centered = load("faces", center=True)
    np.testing.assert_allclose(centered.X.mean(axis=0), 0.0, atol=1e-5)
    assert centered.options["center"] is True


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: load("digitz"), ["Unknown data set", "digits", "mnist", "path"]),
        (lambda: load("patches", patch_sise=8), ["patch_sise", "patch_size", "whiten", "epsilon"]),
        (lambda: load("digits", whiten=True), ["whiten", "takes no extra options"]),
        (lambda: load("digits", n_samples=5000), ["5000", "1797"]),
        (lambda: load("digits", scale="zscore"), ["zscore", "minmax", "standard"]),
        (lambda: load("sparse-synthetic", k=20, n_atoms=10), ["k=20", "at most 10"]),
        (lambda: load("digits", image_shape=(5, 5)), ["25", "64"]),
        (lambda: datasets.describe("nope"), ["Unknown data set", "digits"]),
    ],
)
def test_bad_builtin_requests_name_problem_and_fix(call, words):
    with pytest.raises(DatasetError) as caught:
        call()
    assert isinstance(caught.value, ValueError)
    for word in words:
        assert word in str(caught.value)


# ----------------------------------------------------------------------------------------------- files


def test_npy_npz_and_csv_round_trip(tmp_path):
    X = np.random.default_rng(0).random((7, 16))
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "x.npz", first=X, second=X[:, :4])
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", header=",".join(f"f{i}" for i in range(16)), comments="")
    np.savetxt(tmp_path / "y.csv", X, delimiter=";")
    for name in ("x.npy", "x.npz", "x.csv", "y.csv"):
        data = load(tmp_path / name)
        np.testing.assert_allclose(data.X, X, rtol=1e-6)
        assert data.image_shape == (4, 4)  # 16 features: inferred square
    assert load(tmp_path / "x.npz", key="second").X.shape == (7, 4)
    assert load(str(tmp_path / "x.npy"), image_shape=(2, 8)).image_shape == (2, 8)


def test_3d_arrays_are_image_stacks(tmp_path):
    np.save(tmp_path / "stack.npy", np.zeros((5, 3, 7)))
    data = load(tmp_path / "stack.npy")
    assert data.X.shape == (5, 21) and data.image_shape == (3, 7)


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content) if name.endswith(".npy") else np.savez(path, content)
    else:
        path.write_bytes(content)
    return path


def _truncated_npy():
    buffer = io.BytesIO()
    np.save(buffer, np.ones((50, 50)))
    return buffer.getvalue()[:400]


def _object_npy():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    return buffer.getvalue()


NAN_DATA = np.ones((4, 3))
NAN_DATA[2, 1], NAN_DATA[3, 0] = np.nan, np.inf


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.npy", b"", ["empty", "0 bytes"]),
        ("cut.npy", _truncated_npy(), ["corrupt or truncated"]),
        ("obj.npy", _object_npy(), ["object", "never unpickled", "np.save"]),
        ("pickle.npy", pickle.dumps([1, 2, 3]), ["pickle", "never unpickled"]),
        ("junk.npy", b"hello world", ["not a NumPy .npy"]),
        ("junk.npz", b"hello world", ["not a NumPy .npz"]),
        ("flat.npy", np.arange(10.0), ["1-D", "reshape"]),
        ("one.npy", np.ones((1, 5)), ["single sample", "at least 2"]),
        ("nofeatures.npy", np.ones((5, 0)), ["zero features"]),
        ("text.npy", np.array([["a", "b"], ["c", "d"]]), ["not numbers"]),
        ("bad.npy", NAN_DATA, ["1 NaN", "1 infinite", "row 2, column 1", "nan_to_num"]),
        ("cells.csv", b"a,b,c\n1,2,3\n4,oops,6\n", ["line 3", "column 2", "'b'", "oops"]),
        ("blank.csv", b"1,2\n3,\n", ["line 2", "column 2"]),
        ("ragged.csv", b"1,2,3\n4,5\n", ["line 2", "2 values", "3"]),
        ("header_only.csv", b"a,b\n", ["no data rows"]),
        ("data.xlsx", b"PK...", ["unsupported", ".csv"]),
        ("photo.png", image_bytes(4, 4), ["single image", "folder"]),
    ],
)
def test_bad_files_name_problem_and_fix(tmp_path, name, content, words):
    path = _write(tmp_path, name, content)
    with pytest.raises(DatasetError) as caught:
        load(path)
    for word in words:
        assert word in str(caught.value), str(caught.value)


def test_npz_key_errors_list_the_arrays(tmp_path):
    np.savez(tmp_path / "x.npz", alpha=np.ones((3, 2)))
    with pytest.raises(DatasetError, match="alpha"):
        load(tmp_path / "x.npz", key="beta")
    with pytest.raises(DatasetError, match="key"):
        load(tmp_path / "x.npz", delimiter=",")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DatasetError, match="File not found.*nothere.npy"):
        load(tmp_path / "nothere.npy")


def test_load_bytes_reads_uploads_by_filename():
    buffer = io.BytesIO()
    np.save(buffer, np.eye(3))
    np.testing.assert_array_equal(load_bytes(buffer.getvalue(), "eye.npy").X, np.eye(3))
    assert load_bytes(io.BytesIO(b"1,2\n3,4\n5,6\n"), "small.csv", scale="minmax").X.max() == 1.0
    with pytest.raises(DatasetError, match="empty"):
        load_bytes(b"", "x.csv")


# ----------------------------------------------------------------------------------------------- online


def test_online_sets_load_from_the_cache(offline_cache):
    rng = np.random.default_rng(0)
    save_online_cache(offline_cache, "olivetti", rng.random((6, 4096)).astype(np.float32), np.arange(6))
    save_online_cache(offline_cache, "mnist", rng.integers(0, 256, (9, 784), dtype=np.uint8), np.arange(9) % 10)
    faces = load("olivetti")
    assert faces.X.shape == (6, 4096) and faces.image_shape == (64, 64) and faces.labels.tolist() == list(range(6))
    digits = load("mnist", n_samples=5)
    assert digits.X.shape == (5, 784) and digits.image_shape == (28, 28)
    assert 0.0 <= digits.X.min() and digits.X.max() <= 1.0 and digits.X.dtype == np.float32


@pytest.mark.parametrize("name", ["olivetti", "mnist"])
def test_online_sets_offline_say_how_to_get_them(name, offline_cache):
    with pytest.raises(DatasetError) as caught:
        load(name)
    message = str(caught.value)
    for word in ("one-time download", "internet", str(offline_cache), "digits", "faces"):
        assert word in message


def test_a_download_is_cached_once(offline_cache, monkeypatch):
    from core.datasets import online

    calls = []

    def fake_download(folder):
        calls.append(folder)
        return np.zeros((3, 784), dtype=np.uint8), np.array([1, 2, 3])

    monkeypatch.setattr(online, "_download_mnist", fake_download)
    assert load("mnist").labels.tolist() == [1, 2, 3]
    assert load("mnist").n_samples == 3 and len(calls) == 1
    assert (offline_cache / "mnist.npz").exists()


def test_damaged_cache_says_to_delete_it(offline_cache):
    save_online_cache(offline_cache, "mnist", np.zeros((3, 10)), np.zeros(3))
    with pytest.raises(DatasetError, match="Delete"):
        load("mnist")


def test_non_negative_is_computed_once_per_data_matrix():
    ds = datasets.Dataset(X=np.ones((3, 2), np.float32), name="ones")
    assert ds.non_negative
    ds.X = -np.ones((3, 2), np.float32)  # a new matrix: asked again
    assert not ds.non_negative
