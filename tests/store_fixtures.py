"""Fixtures shared by tests/test_store.py and tests/test_store_readonly.py (imported there, not a conftest)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from core import models

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
TINY = {"max_steps": 30, "batch_size": 32, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((96, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def topk(X):
    return models.create("sae-topk", n_components=8, k=2, **TINY).fit(X)


@pytest.fixture(scope="module")
def pca(X):
    return models.create("pca", n_components=4, random_state=0).fit(X)
