"""A sample as the mean plus its top weighted atoms, and nearest-neighbour recognition in code space."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from core import metrics
from core.analysis.tables import analysis_rows


# -- a sample as a weighted sum of atoms ------------------------------------------------------------------
def effective_atoms(model) -> tuple[np.ndarray, np.ndarray]:
    """``(base, D)`` such that ``inverse_transform(c) = base + c @ D`` for every code ``c``.

    ``base`` (n_features,) is the decoder bias or the data mean (0 for NMF); ``D`` (n_components,
    n_features) holds the atoms as the decoder uses them (e.g. scaled back when PCA whitens).
    """
    m = int(np.asarray(model.components_).shape[0])
    base = model.inverse_transform(np.zeros((1, m), dtype=np.float32))[0].astype(np.float64)
    D = model.inverse_transform(np.eye(m, dtype=np.float32)).astype(np.float64) - base
    return base, D


@dataclass(frozen=True)
class SampleDecomposition:
    """One sample as ``base + sum_j weights[j] * atoms[j]`` over its top atoms (largest |weight| first).

    ``indices``: which atoms (rows of ``components_``); ``atoms``: those atoms at unit norm; ``weights``:
    code times atom norm (so a weight is the length of that atom's contribution); ``partial[t]``: the
    base plus the first t atoms (``partial[0] = base``); ``reconstruction``: the model's full one.
    """

    original: np.ndarray
    base: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    atoms: np.ndarray
    partial: np.ndarray
    reconstruction: np.ndarray
    n_active: int

    def errors(self) -> np.ndarray:
        """Mean squared error of each partial reconstruction (base, +1 atom, ...) to the original."""
        return np.mean((self.partial - self.original) ** 2, axis=1)


def decompose_sample(model, x, n_top: int = 8) -> SampleDecomposition:
    """The sample ``x`` (n_features,) as the base plus its ``n_top`` largest weighted atoms (see above).

    Atoms whose code is 0 are never listed, so a TopK SAE shows at most k atoms.
    """
    x = np.asarray(metrics.as_numpy(x), dtype=np.float32).reshape(1, -1)
    code = model.transform(x)[0].astype(np.float64)
    base, D = effective_atoms(model)
    norms = np.linalg.norm(D, axis=1)
    weights = code * norms
    active = np.flatnonzero(weights != 0)
    order = active[np.argsort(-np.abs(weights[active]), kind="stable")][: max(0, int(n_top))]
    unit = np.divide(D[order], norms[order, None], out=np.zeros_like(D[order]), where=norms[order, None] > 0)
    contributions = weights[order, None] * unit
    partial = base + np.concatenate([np.zeros((1, D.shape[1])), np.cumsum(contributions, axis=0)])
    return SampleDecomposition(original=x[0].astype(np.float64), base=base, indices=order, weights=weights[order],
                               atoms=unit, partial=partial, reconstruction=base + code @ D,
                               n_active=int(active.size))


# -- recognition in code space ----------------------------------------------------------------------------
def split_indices(n: int, test_fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random train/test split of ``range(n)`` (sorted indices), deterministic in ``seed``
    (scikit-learn's ``train_test_split``)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}.")
    if n < 2:
        raise ValueError(f"A train/test split needs at least 2 samples, got {n}.")
    n_test = _test_count(n, test_fraction)
    train, test = train_test_split(np.arange(n), test_size=n_test, random_state=seed)
    return np.sort(train), np.sort(test)


def _test_count(n: int, test_fraction: float) -> int:
    return min(n - 1, max(1, int(round(n * test_fraction))))


#: ``recognition`` measures on a random subset of at most this many samples (1-NN on more adds little)
RECOGNITION_MAX_SAMPLES = 5000


def recognition_sizes(n_samples: int, test_fraction: float = 0.25,
                      max_samples: int | None = RECOGNITION_MAX_SAMPLES) -> tuple[int, int, int]:
    """How many samples ``recognition`` uses of ``n_samples``, and how many of them train and test:
    ``(used, n_train, n_test)``, before anything is fitted (a page says what a measurement will cost)."""
    used = int(analysis_rows(int(n_samples), max_samples).size)
    n_test = _test_count(used, test_fraction)
    return used, used - n_test, n_test


def nearest_neighbour_accuracy(train_codes, train_labels, test_codes, test_labels) -> float:
    """Fraction of test samples whose nearest training sample (Euclidean, in code space) has their label
    (scikit-learn's 1-nearest-neighbour classifier; it bounds its memory by computing distances in chunks)."""
    A = np.asarray(metrics.as_numpy(train_codes), dtype=np.float64)
    B = np.asarray(metrics.as_numpy(test_codes), dtype=np.float64)
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    if len(A) != len(train_labels) or len(B) != len(test_labels):
        raise ValueError("Each code needs a label: the codes and labels differ in length.")
    if len(A) == 0 or len(B) == 0:
        raise ValueError("Nearest-neighbour recognition needs at least one training and one test sample.")
    classifier = KNeighborsClassifier(n_neighbors=1, algorithm="brute").fit(A, train_labels)
    return float(classifier.score(B, test_labels))


REPORT_EVERY = 0.2  # seconds between two progress reports of ``recognition``


class _Progress:
    """``recognition``'s reports: model ``index``'s share done, told at most every ``REPORT_EVERY`` seconds
    (a new model is always told)."""

    def __init__(self, report: Callable[[float, str], None] | None, n_models: int):
        self.report, self.n_models, self.last, self.index = report, max(1, n_models), -math.inf, -1

    def __call__(self, index: int, done: float, text: str) -> None:
        now = time.monotonic()
        if self.report is None or (index == self.index and now - self.last < REPORT_EVERY):
            return
        self.index, self.last = index, now
        self.report(min(1.0, (index + min(1.0, done)) / self.n_models), text)


def recognition(estimators: dict[str, Any], X, labels, *, test_fraction: float = 0.25, seed: int = 0,
                refit: bool = True, pixels: bool = True, max_samples: int | None = RECOGNITION_MAX_SAMPLES,
                report: Callable[[float, str], None] | None = None) -> list[dict[str, Any]]:
    """The eigenfaces recipe: codes of train and test samples, each test sample gets its nearest training
    sample's label. One row per model (and the raw pixels as a baseline): name, accuracy, size.

    ``refit``: each (unfitted or fitted) estimator is cloned and fitted on the training samples only;
    otherwise fitted estimators are used as they are. A model that fails gets its error in ``note``.
    ``report(fraction, text)`` is told how far it is (each model an equal share, a model trained step by
    step followed through its steps), at most every ``REPORT_EVERY`` seconds.
    """
    from sklearn.base import clone

    X = np.asarray(metrics.as_numpy(X), dtype=np.float32)
    labels = np.asarray(labels)
    if labels.shape[0] != X.shape[0]:
        raise ValueError(f"{X.shape[0]} samples but {labels.shape[0]} labels; give one label per sample.")
    rows_used = analysis_rows(X.shape[0], max_samples, seed)
    X, labels = X[rows_used], labels[rows_used]
    train, test = split_indices(X.shape[0], test_fraction, seed)
    result = []
    if pixels:
        result.append({"model": "pixels", "accuracy": nearest_neighbour_accuracy(X[train], labels[train], X[test],
                                                                                 labels[test]),
                       "n_components": X.shape[1], "note": "raw data, no model"})
    progress = _Progress(report, len(estimators))
    for index, (name, estimator) in enumerate(estimators.items()):
        row = {"model": name, "accuracy": math.nan, "n_components": getattr(estimator, "n_components", None),
               "note": ""}
        try:
            if refit:
                estimator = clone(estimator)
                steps = int(getattr(estimator, "max_steps", 0) or 0)
                what = f"Fitting {name} on {train.size:,} training samples (model {index + 1} of {len(estimators)})"
                progress(index, 0.0, what)
                if hasattr(estimator, "fit_iter") and steps > 0:
                    for logged in estimator.fit_iter(X[train]):
                        step = int(logged.get("step", 0))
                        progress(index, step / steps, f"{what}: step {step:,} of {steps:,}")
                else:
                    estimator.fit(X[train])
                progress(index, 1.0, f"Coding the samples with {name}")
            codes = estimator.transform(X)
            row["accuracy"] = nearest_neighbour_accuracy(codes[train], labels[train], codes[test], labels[test])
            row["n_components"] = codes.shape[1]
        except Exception as error:  # noqa: BLE001 - one model failing (e.g. NMF on signed data) is reported
            row["note"] = str(error)
        result.append(row)
    for row in result:
        row.update(n_train=int(train.size), n_test=int(test.size))
    return result
