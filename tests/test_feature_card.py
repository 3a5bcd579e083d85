"""The feature card's math (core.analysis.features, core.analysis.text_features) on data whose answer is known,
and the firing-density record a training job keeps in its saved history."""

from __future__ import annotations

import numpy as np
import pytest

from core import datasets, models
from core.analysis.features import (class_means, correlated_features, firing_over_training, nearest_atoms,
                                    quantile_examples, scale_feature)
from core.analysis.text_features import keyword_labels, search_features
from core.jobs import TrainingJob
from core.jobs.saving import save_job
from core.store import RunStore


def test_a_planted_duplicate_atom_is_the_nearest():
    rng = np.random.default_rng(0)
    atoms = rng.normal(size=(12, 30))
    atoms[7] = 2.5 * atoms[3] + 0.01 * rng.normal(size=30)  # the same direction, another length
    found, cosines = nearest_atoms(atoms, 3, n=4)
    assert found[0] == 7 and cosines[0] > 0.99
    assert 3 not in found and len(found) == 4 and np.all(np.diff(cosines) <= 1e-12)


def test_the_feature_that_copies_another_is_the_most_correlated():
    rng = np.random.default_rng(1)
    codes = np.clip(rng.normal(size=(300, 6)), 0, None)
    codes[:, 4] = 3 * codes[:, 1] + 0.05 * rng.random(300)
    codes[:, 5] = 0  # dead: constant, correlated with nothing
    found, r = correlated_features(codes, 1, n=5)
    assert found[0] == 4 and r[0] > 0.99 and 1 not in found
    assert r[list(found).index(5)] == 0
    assert correlated_features(codes, 5)[0].size == 0


def test_a_feature_firing_only_on_class_3_has_the_highest_class_3_mean():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 5, size=400)
    codes = np.clip(rng.normal(0.5, 0.3, size=(400, 8)), 0, None)
    codes[:, 6] = np.where(labels == 3, 4.0 + rng.random(400), 0.0)
    classes, means = class_means(codes, labels)
    assert list(classes) == [0, 1, 2, 3, 4]
    assert int(np.argmax(means[3])) == 6  # of all features on class 3
    assert int(np.argmax(means[:, 6])) == 3 and np.all(means[[0, 1, 2, 4], 6] == 0)
    with pytest.raises(ValueError, match="one label per sample"):
        class_means(codes, labels[:10])


def test_examples_come_from_across_the_activation_range():
    column = np.concatenate([np.zeros(50), np.arange(1, 101, dtype=float)])
    codes = np.stack([column, np.zeros_like(column)], axis=1)
    examples = quantile_examples(codes, 0, per_quantile=2)
    assert [e.quantile for e in examples] == [1.0, 0.9, 0.75, 0.5, 0.25, 0.0]
    assert list(examples[0].activations) == [100, 99] and examples[-1].activations.min() == 1
    assert 45 <= examples[3].level <= 55 and all(np.all(codes[e.indices, 0] > 0) for e in examples)
    assert quantile_examples(codes, 1) == []  # never fires


def test_scaling_a_feature_moves_the_reconstruction_along_its_atom():
    ds = datasets.load("digits")
    model = models.create("sae-topk", n_components=16, k=4, max_steps=40, random_state=0, device="cpu").fit(ds.X)
    code = model.transform(ds.X[:1])[0]
    feature = int(np.argmax(code))
    edit = scale_feature(model, ds.X[0], code, feature, 3.0)
    assert edit.new_activation == pytest.approx(3 * edit.activation) and edit.activation > 0
    np.testing.assert_allclose(edit.reconstruction, model.inverse_transform(code[None])[0], atol=1e-5)
    np.testing.assert_allclose(edit.difference, 2 * edit.activation * model.components_[feature], atol=1e-4)
    same = scale_feature(model, ds.X[0], code, feature, 1.0)
    np.testing.assert_allclose(same.difference, 0, atol=1e-6)


SENTENCES = {
    "cat": ["the cat sleeps on the mat", "a cat chases the mouse", "my cat purrs loudly", "the cat eats fish"],
    "rain": ["heavy rain falls today", "the rain soaks the street", "rain clouds gather", "cold rain again"],
    "market": ["the market rises", "stocks on the market fall", "the market opens early", "a quiet market day"],
}


def _text_codes():
    """Three features, each firing on one topic's texts (strongest on the first), and a dead one."""
    texts, codes = [], []
    for topic, sentences in enumerate(SENTENCES.values()):
        for i, sentence in enumerate(sentences):
            texts.append(sentence)
            row = np.zeros(4)
            row[topic] = 2.0 - 0.2 * i
            codes.append(row)
    return np.array(texts), np.array(codes)


def test_the_keyword_label_of_a_feature_firing_on_cat_texts_contains_cat():
    texts, codes = _text_codes()
    labels = keyword_labels(codes, texts, n_top=4)
    assert "cat" in labels[0].split(", ") and "rain" in labels[1].split(", ") and "market" in labels[2].split(", ")
    assert labels[3] == ""  # never fires


def test_search_finds_the_feature_that_fires_on_the_query():
    texts, codes = _text_codes()
    labels = keyword_labels(codes, texts, n_top=4)
    found = search_features("Cat", codes, texts, labels)
    assert found.n_matching == 4 and found.features[0] == 0 and found.rows[0]["label matches"]
    assert 3 not in found.features
    by_label = search_features("rain", np.zeros_like(codes), np.array(["x"] * len(texts)), labels)
    assert by_label.n_matching == 0 and by_label.features == [1]
    with pytest.raises(ValueError, match="Type a word"):
        search_features("  ", codes, texts, labels)


def test_a_run_trained_in_the_app_keeps_its_firing_density_over_training(tmp_path):
    ds = datasets.load("digits")
    model = models.create("sae-topk", n_components=16, k=4, max_steps=120, random_state=0, device="cpu")
    job = TrainingJob(model, ds.X, model_name="sae-topk", dataset_name="digits")
    job.start()
    job.wait(120)
    store = RunStore(tmp_path / "runs")
    record = save_job(store, job)
    steps, firing = firing_over_training(store.load_history(record.id))
    assert firing.shape == (len(steps), 16) and 2 <= len(steps) <= 64
    assert np.all(np.diff(steps) > 0) and steps[-1] <= 120
    assert np.all((firing >= 0) & (firing <= 1))
    # TopK with k=4 of 16 fires 4 latents per sample: the densities sum to about 4 at every record
    np.testing.assert_allclose(firing.sum(axis=1), 4, atol=0.01)
    assert firing_over_training([{"step": 1, "loss": 1.0}]) is None
