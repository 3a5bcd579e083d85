"""The faces sets: 'faces' is LFW's faces only (non-faces on request), 'face-parts' is faces summed from
known parts, on which NMF finds the parts and PCA does not (Lee & Seung 1999, offline)."""

from __future__ import annotations

import numpy as np
import pytest

from core import models
from core.datasets import DATASET_OPTIONS, DatasetError, available, describe, load
from core.datasets.face_parts import PART_GROUPS, face_parts
from core.metrics import mmcs


def test_faces_holds_only_the_100_faces_by_default():
    data = load("faces")
    assert data.X.shape == (100, 625) and data.image_shape == (25, 25)
    assert data.labels is None  # one class: a label would say nothing
    assert "include_non_faces" in describe("faces") and "include_non_faces" in data.description


def test_include_non_faces_adds_the_100_non_face_crops_labelled():
    only_faces = load("faces").X
    both = load("faces", include_non_faces=True)
    assert both.X.shape == (200, 625)
    assert both.labels.tolist() == [1] * 100 + [0] * 100
    np.testing.assert_array_equal(both.X[both.labels == 1], only_faces)  # the default is exactly the faces
    assert DATASET_OPTIONS["faces"] == {"include_non_faces": False}


def test_a_misnamed_faces_option_names_the_right_one():
    with pytest.raises(DatasetError, match="non_faces.*Accepted options: include_non_faces"):
        load("faces", non_faces=True)
    with pytest.raises(DatasetError, match="include_non_faces=.yes. must be True or False"):
        load("faces", include_non_faces="yes")


def test_face_parts_is_listed_offline_with_its_parts_as_truth():
    assert "face-parts" in available() and "truth" in describe("face-parts")
    data = load("face-parts", n_samples=300, seed=3)
    n_parts = sum(PART_GROUPS.values())
    assert data.X.shape == (300, 32 * 32) and data.image_shape == (32, 32)
    assert data.truth.shape == (n_parts, data.n_features) == face_parts().shape
    assert data.X.min() >= 0.0 and data.X.max() <= 1.0 and data.non_negative


def test_face_parts_is_deterministic_in_the_seed():
    first, again, other = (load("face-parts", n_samples=50, seed=s).X for s in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_parts_are_disjoint_and_every_face_is_its_outline_plus_one_variant_of_each_feature():
    parts = face_parts()
    overlap = parts @ parts.T
    np.testing.assert_array_equal(overlap, np.diag(np.diag(overlap)))  # no pixel is in two parts
    data = load("face-parts", n_samples=200, likeness=0.0)
    codes = data.X @ np.linalg.pinv(parts)  # exact: every face lies in the span of the parts
    np.testing.assert_allclose(codes @ parts, data.X, atol=1e-5)
    on = codes > 1e-3
    group_of_part = np.repeat(np.arange(len(PART_GROUPS)), list(PART_GROUPS.values()))
    for group in range(len(PART_GROUPS)):
        assert (on[:, group_of_part == group].sum(axis=1) == 1).all()


def test_likeness_makes_features_go_together():
    group_sizes = list(PART_GROUPS.values())
    eyes, mouths = (sum(group_sizes[:i]) + np.arange(3) for i in (2, 4))  # first variant indices of each group

    def same_type_share(likeness):
        data = load("face-parts", n_samples=600, likeness=likeness)
        codes = data.X @ np.linalg.pinv(face_parts())
        return np.mean(codes[:, eyes].argmax(axis=1) == codes[:, mouths].argmax(axis=1))

    assert same_type_share(1.0) == 1.0
    assert abs(same_type_share(0.0) - 1 / 3) < 0.08
    with pytest.raises(DatasetError, match="likeness"):
        load("face-parts", likeness=1.5)


def test_nmf_finds_the_parts_and_pca_gives_whole_faces():
    data = load("face-parts", n_samples=600)
    rank = len(data.truth)
    nmf = models.create("nmf", n_components=rank, max_steps=300, random_state=0).fit(data.X)
    pca = models.create("pca", n_components=rank).fit(data.X)
    nmf_score, pca_score = mmcs(data.truth, nmf.components_), mmcs(data.truth, pca.components_)
    assert nmf_score >= 0.9
    assert pca_score <= nmf_score - 0.2
    # a wrong truth (the parts shifted by a row, as a mislabelled generator would give) fails the bar
    wrong_truth = np.roll(data.truth.reshape(rank, 32, 32), 1, axis=1).reshape(rank, -1)
    assert mmcs(wrong_truth, nmf.components_) < 0.9
