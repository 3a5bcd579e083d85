"""One feature up close (Inspect's feature card): its neighbours, its examples, its classes, an edit of it.

* ``nearest_atoms``: the atoms most alike by decoder cosine (scikit-learn ``NearestNeighbors``).
* ``correlated_features``: the features whose codes rise and fall with it (Pearson correlation over samples).
* ``quantile_examples``: samples at several quantiles of its activation where it fires, not only the top.
* ``class_means``: its mean activation per class on labelled data (the picture version of a logit table).
* ``scale_feature``: a sample's reconstruction with the feature's activation multiplied by a factor.
* ``firing_over_training``: the per-feature firing frequencies a training job records in its history.

Functions of arrays and fitted models; no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core import metrics

#: the quantiles of a feature's activations where it fires that ``quantile_examples`` shows, top first
QUANTILES = (1.0, 0.9, 0.75, 0.5, 0.25, 0.0)
#: the history key under which a training job records each feature's firing frequency
FIRING_KEY = "firing"


def _codes(codes) -> np.ndarray:
    return np.asarray(metrics.as_numpy(codes), dtype=np.float64)


def _check_feature(feature: int, m: int) -> int:
    feature = int(feature)
    if not 0 <= feature < m:
        raise ValueError(f"Feature {feature} does not exist: pick one from 0 to {m - 1}.")
    return feature


def nearest_atoms(atoms, feature: int, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` atoms closest to atom ``feature`` by cosine (itself left out): (indices, cosines), most
    alike first. A zero atom has no direction: its cosine with anything counts as 0."""
    from sklearn.neighbors import NearestNeighbors

    atoms = np.asarray(metrics.as_numpy(atoms), dtype=np.float64)
    feature = _check_feature(feature, atoms.shape[0])
    norms = np.linalg.norm(atoms, axis=1, keepdims=True)
    unit = np.divide(atoms, norms, out=np.zeros_like(atoms), where=norms > 0)
    n = min(int(n), atoms.shape[0] - 1)
    if n <= 0:
        return np.zeros(0, dtype=int), np.zeros(0)
    # Euclidean distance between unit vectors orders them as the cosine does (|a - b|^2 = 2 - 2 cos)
    search = NearestNeighbors(n_neighbors=n + 1).fit(unit)
    _, found = search.kneighbors(unit[feature:feature + 1])
    found = np.array([j for j in found[0] if j != feature][:n])
    return found, unit[found] @ unit[feature]


def correlated_features(codes, feature: int, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` features whose codes correlate most with ``feature``'s over the samples (itself left out):
    (indices, Pearson correlations), largest first. A feature constant on these samples (e.g. dead)
    correlates with nothing (0)."""
    codes = _codes(codes)
    feature = _check_feature(feature, codes.shape[1])
    centred = codes - codes.mean(axis=0)
    spread = np.linalg.norm(centred, axis=0)
    if spread[feature] == 0:
        return np.zeros(0, dtype=int), np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (centred.T @ centred[:, feature]) / (spread * spread[feature])
    r = np.where(spread > 0, r, 0.0)
    r[feature] = -np.inf
    order = np.argsort(-r, kind="stable")[: min(int(n), codes.shape[1] - 1)]
    return order, r[order]


@dataclass(frozen=True)
class QuantileExamples:
    quantile: float  # of the feature's non-zero activations (1.0: the largest)
    level: float  # the activation at that quantile
    indices: np.ndarray  # samples whose activation is nearest that level
    activations: np.ndarray


def quantile_examples(codes, feature: int, per_quantile: int = 4,
                      quantiles: tuple[float, ...] = QUANTILES, threshold: float = 0.0) -> list[QuantileExamples]:
    """Samples from across ``feature``'s activation range: for each quantile of its activations where it
    fires (``|code| > threshold``, the model's ``metrics.activity_threshold``), the ``per_quantile`` samples
    nearest that level. Empty for a feature that never fires."""
    column = _codes(codes)[:, _check_feature(feature, np.asarray(codes).shape[1])]
    fired = np.flatnonzero(np.abs(column) > threshold)
    if fired.size == 0:
        return []
    values = column[fired]
    examples = []
    for q in quantiles:
        level = float(np.quantile(values, q))
        nearest = fired[np.argsort(np.abs(values - level), kind="stable")[:per_quantile]]
        nearest = nearest[np.argsort(-column[nearest], kind="stable")]
        examples.append(QuantileExamples(float(q), level, nearest, column[nearest]))
    return examples


def class_means(codes, labels) -> tuple[np.ndarray, np.ndarray]:
    """Mean activation of every feature per class: (classes, means of shape (n_classes, n_features))."""
    codes, labels = _codes(codes), np.asarray(labels)
    if labels.shape[0] != codes.shape[0]:
        raise ValueError(f"{labels.shape[0]} labels for {codes.shape[0]} samples: pass one label per sample.")
    classes, inverse = np.unique(labels, return_inverse=True)
    sums = np.zeros((classes.size, codes.shape[1]))
    np.add.at(sums, inverse, codes)
    return classes, sums / np.bincount(inverse, minlength=classes.size)[:, None]


@dataclass(frozen=True)
class FeatureEdit:
    """A sample, its reconstruction, and its reconstruction with one feature's activation scaled."""

    original: np.ndarray
    reconstruction: np.ndarray
    edited: np.ndarray
    activation: float  # the feature's activation on the sample
    new_activation: float

    @property
    def difference(self) -> np.ndarray:
        return self.edited - self.reconstruction


def scale_feature(model, x, code, feature: int, factor: float) -> FeatureEdit:
    """Decode ``code`` (the sample ``x``'s codes) as it is and with ``feature``'s activation times ``factor``."""
    code = np.asarray(metrics.as_numpy(code), dtype=np.float32).reshape(1, -1)
    feature = _check_feature(feature, code.shape[1])
    edited = code.copy()
    edited[0, feature] *= float(factor)
    both = model.inverse_transform(np.concatenate([code, edited]))
    return FeatureEdit(original=np.asarray(x, dtype=np.float64).ravel(), reconstruction=both[0].astype(np.float64),
                       edited=both[1].astype(np.float64), activation=float(code[0, feature]),
                       new_activation=float(edited[0, feature]))


def firing_over_training(history) -> tuple[np.ndarray, np.ndarray] | None:
    """The firing frequencies a training job recorded (``core.jobs.fit``): (steps, fractions of shape
    (n_snapshots, n_features)), or None when the run has no such record (e.g. it was not trained in the app)."""
    rows = [row for row in history or [] if isinstance(row.get(FIRING_KEY), list)]
    if not rows:
        return None
    width = len(rows[-1][FIRING_KEY])
    rows = [row for row in rows if len(row[FIRING_KEY]) == width]
    return (np.array([int(row["step"]) for row in rows]),
            np.array([row[FIRING_KEY] for row in rows], dtype=np.float64))
