"""Activations and embeddings from files (.safetensors, .npy, .npz, .csv) with their texts or labels, and the
offline text-embeddings demo (issue 22, inputs)."""

from __future__ import annotations

import numpy as np
import pytest

from core.datasets import DatasetError, load


# ----------------------------------------------------------------------------------------------- the text demo


def test_text_embeddings_are_unit_signed_rows_with_their_sentences_and_topics():
    data = load("text-embeddings", n_samples=300, dims=32)
    assert data.X.shape == (300, 32) and data.image_shape is None
    np.testing.assert_allclose(np.linalg.norm(data.X, axis=1), 1.0, atol=1e-5)
    assert data.X.min() < 0 < data.X.max()
    assert data.texts.shape == (300,) and data.texts.dtype.kind == "U"
    assert data.label_names == ("space", "cooking", "football", "music", "finance", "weather")
    assert set(np.unique(data.labels)) == set(range(6))
    # each sentence uses its topic's words: the topic's nouns appear in the sentences labelled with it
    from core.datasets.text_embeddings import TOPICS

    for text, label in zip(data.texts[:50], data.labels[:50]):
        nouns = TOPICS[data.label_names[label]][0]
        assert any(noun in text.lower() for noun in nouns), (text, data.label_names[label])
    # same topic, nearer embeddings: the mean cosine within a topic beats the one across topics
    same = data.labels[:, None] == data.labels[None, :]
    cosine = data.X @ data.X.T
    assert cosine[same].mean() > cosine[~same].mean() + 0.2


def test_text_embeddings_keep_their_dims_for_a_small_sample_and_are_deterministic():
    small = load("text-embeddings", n_samples=10)
    assert small.X.shape == (10, 64) and len(small.texts) == 10
    again = load("text-embeddings", n_samples=10)
    np.testing.assert_array_equal(small.X, again.X)
    assert small.texts.tolist() == again.texts.tolist()
    with pytest.raises(DatasetError, match="dims"):
        load("text-embeddings", dims=500)
