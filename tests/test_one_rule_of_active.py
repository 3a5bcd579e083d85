"""One rule of "active" (issues 19 and 22): a model's ``activity_threshold`` decides what counts as a firing
latent in training (L0, dead fraction) and after it (core.metrics.evaluate, the feature table, the firing
density recorded for Inspect), so a sigmoid SAE's metrics agree with its history."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import analysis, datasets, metrics, models


def test_sigmoid_codes_count_as_active_above_one_half_after_training_as_in_it():
    X = datasets.load("digits", scale="minmax", n_samples=300, seed=0).X
    model = models.create("sae-kl", n_components=25, max_steps=100, random_state=0, device="cpu").fit(X)
    codes = model.transform(X)
    assert (codes > 0).all()  # sigmoid codes are never 0: counting non-zero codes would say 25 of 25
    scores = metrics.evaluate(model, X, codes)
    expected_l0 = float((codes > 0.5).sum(1).mean())
    assert scores["l0"] == expected_l0 < 25
    firing = model._firing(torch.as_tensor(codes)).numpy()
    assert scores["l0"] == float(firing.sum(1).mean())
    assert scores["dead_fraction"] == float(np.mean(~firing.any(0)))
    table = analysis.feature_table(codes, model.components_, metrics.activity_threshold(model))
    assert sum(row["density"] for row in table) == pytest.approx(expected_l0)


def test_relu_saes_keep_non_zero_as_active():
    X = datasets.load("digits", scale="minmax", n_samples=300, seed=0).X
    model = models.create("sae-topk", n_components=16, k=3, max_steps=20, random_state=0, device="cpu").fit(X)
    assert metrics.activity_threshold(model) == 0.0
    assert metrics.evaluate(model, X)["l0"] == float((model.transform(X) != 0).sum(1).mean())
