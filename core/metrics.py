"""Evaluation metrics, each defined once: reconstruction, sparsity, dictionary recovery, the PCA baseline.

Inputs are numpy arrays; torch tensors are accepted and copied to the CPU. Scalars come back as Python
floats, per-vector quantities as numpy arrays. Shapes follow scikit-learn: data ``X`` and reconstructions
``X_hat`` are (n_samples, n_features), ``codes`` are (n_samples, n_components), atoms (``components_``)
are (n_components, n_features). A code is *active* (the latent *fires*) when ``|code| > threshold``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "AtomMatching",
    "DensityHistogram",
    "COLLAPSE_DEAD_FRACTION",
    "COLLAPSE_L0",
    "as_numpy",
    "collapse",
    "cosine_similarity_matrix",
    "dead_fraction",
    "density_histogram",
    "evaluate",
    "activity_threshold",
    "feature_density",
    "fvu",
    "hoyer_sparseness",
    "l0",
    "match_atoms",
    "mcc",
    "mean_hoyer",
    "mmcs",
    "mse",
    "pca_mse",
    "pca_mse_by_rank",
    "plateau_levels",
]


# -- input ------------------------------------------------------------------------------------------
def as_numpy(array) -> np.ndarray:
    """``array`` as a numpy array; a torch tensor is detached and copied to the CPU (half floats as float32)."""
    if hasattr(array, "detach"):
        tensor = array.detach().cpu()
        if tensor.is_floating_point() and tensor.element_size() < 4:
            tensor = tensor.float()
        array = tensor.numpy()
    return np.asarray(array)


def _as_float(array) -> np.ndarray:
    """A floating-point array: float32 and float64 are kept, anything else becomes float64."""
    array = as_numpy(array)
    return array if np.issubdtype(array.dtype, np.floating) else array.astype(np.float64)


def _as_matrix(array, name: str) -> np.ndarray:
    """A 2-D floating-point array with at least one row, or a ValueError that names ``name``."""
    array = _as_float(array)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must be a 2-D array with at least one row, got shape {array.shape}.")
    return array


def _active(codes, threshold: float) -> np.ndarray:
    """Boolean (n_samples, n_components): where ``|code| > threshold``."""
    return np.abs(_as_matrix(codes, "codes")) > threshold


# -- reconstruction -----------------------------------------------------------------------------------
def _residual_sum_of_squares(X: np.ndarray, X_hat) -> float:
    """``sum_ij (X_ij - X_hat_ij)^2``, accumulated in float64."""
    X_hat = _as_float(X_hat)
    if X.shape != X_hat.shape:
        raise ValueError(f"X has shape {X.shape} but X_hat has shape {X_hat.shape}; they must match.")
    residual = X - X_hat
    np.square(residual, out=residual)
    return float(residual.sum(dtype=np.float64))


def mse(X, X_hat) -> float:
    """Mean squared error over all entries: ``MSE = (1 / (n d)) sum_ij (X_ij - X_hat_ij)^2``."""
    X = _as_float(X)
    if X.size == 0:
        raise ValueError("mse needs at least one entry; X is empty.")
    return _residual_sum_of_squares(X, X_hat) / X.size


def fvu(X, X_hat) -> float:
    """Fraction of variance unexplained: ``FVU = sum_ij (X_ij - X_hat_ij)^2 / sum_ij (X_ij - mean_i X_ij)^2``.

    The mean is over samples (per feature), so FVU = 1 for the best constant reconstruction and 0 for a
    perfect one; 1 - FVU is the R^2 of the reconstruction. When X has no variance at all the ratio is
    0 for a perfect reconstruction and ``inf`` otherwise.
    """
    X = _as_matrix(X, "X")
    residual = _residual_sum_of_squares(X, X_hat)
    total = X.shape[0] * float(np.var(X, axis=0, dtype=np.float64).sum())
    if total == 0.0:
        return 0.0 if residual == 0.0 else float("inf")
    return residual / total


# -- sparsity -----------------------------------------------------------------------------------------
def l0(codes, threshold: float = 0.0) -> float:
    """Mean number of active codes per sample: ``L0 = (1 / n) sum_i #{j : |c_ij| > threshold}``."""
    active = _active(codes, threshold)
    return float(np.count_nonzero(active) / active.shape[0])


def activity_threshold(model) -> float:
    """The code above which ``model`` counts a latent as active (its ``activity_threshold``; 0 for most)."""
    return float(getattr(model, "activity_threshold", 0.0))


def feature_density(codes, threshold: float = 0.0) -> np.ndarray:
    """Firing frequency of each latent: ``density_j = (1 / n) #{i : |c_ij| > threshold}``, shape (n_components,).

    The densities sum to ``l0(codes, threshold)``.
    """
    return _active(codes, threshold).mean(axis=0)


def dead_fraction(codes, threshold: float = 0.0) -> float:
    """Fraction of latents that never fire on these samples: ``(1 / m) #{j : density_j = 0}``."""
    return float(np.mean(feature_density(codes, threshold) == 0.0))


#: a run has collapsed when its dead fraction reaches this, or its L0 falls below the other (``collapse``)
COLLAPSE_DEAD_FRACTION = 0.9
COLLAPSE_L0 = 0.05


def collapse(values) -> str | None:
    """Why a run has collapsed, or None when it has not (or when ``values`` hold neither number).

    ``values`` is a mapping with ``dead_fraction`` and/or ``l0`` (a metrics row of the training history, or
    ``evaluate``'s result). A run has *collapsed* when ``dead_fraction >= COLLAPSE_DEAD_FRACTION`` (90% or
    more of its atoms never fire) or when ``l0 < COLLAPSE_L0`` (L0 at 0: fewer than one active code per
    twenty samples, 0.0 to one decimal): its codes no longer describe the data, whatever its loss says. The
    usual cause is a sparsity penalty or a learning rate too large for the data. NaN values (a diverged
    run) count as unknown, not as collapsed.
    """
    dead, active = values.get("dead_fraction"), values.get("l0")
    if dead is not None and math.isfinite(dead) and dead >= COLLAPSE_DEAD_FRACTION:
        return f"{dead:.0%} of its atoms are dead (they fire on no sample)"
    if active is not None and math.isfinite(active) and active < COLLAPSE_L0:
        return "no code fires on any sample (L0 = 0)" if active == 0 else \
            f"almost no code fires (L0 = {active:.2g} codes per sample)"
    return None


@dataclass(frozen=True)
class DensityHistogram:
    """Histogram of ``log10(feature density)`` over the live latents; the dead ones are counted apart.

    counts: (bins,) number of live latents per bin. edges: (bins + 1,) bin edges in log10 density.
    n_dead: latents that never fired (log10 0 = -inf, so they have no bin).
    """

    counts: np.ndarray
    edges: np.ndarray
    n_dead: int

    @property
    def n_latents(self) -> int:
        return int(self.counts.sum()) + self.n_dead


def density_histogram(codes, bins: int = 30, threshold: float = 0.0) -> DensityHistogram:
    """The SAE-dashboard feature-density plot: a histogram of ``log10(density_j)`` for the live latents.

    The range is fixed by the sample count, ``[log10(1 / n_samples), 0]`` (one firing to always firing),
    widened to at least one decade, so histograms of runs on the same data share their bins.
    """
    active = _active(codes, threshold)
    density = active.mean(axis=0)
    live = density[density > 0.0]
    lowest = min(-1.0, -float(np.log10(active.shape[0])))
    counts, edges = np.histogram(np.log10(live), bins=bins, range=(lowest, 0.0))
    return DensityHistogram(counts=counts, edges=edges, n_dead=int(density.size - live.size))


def hoyer_sparseness(A, axis: int = -1) -> np.ndarray:
    """Hoyer (2004) sparseness of each vector along ``axis``: ``(sqrt(n) - ||a||_1 / ||a||_2) / (sqrt(n) - 1)``.

    1 for a vector with a single non-zero entry, 0 for a vector with all entries of equal magnitude.
    The all-zero vector, and any vector of length n = 1, scores 0. Use ``axis=-1`` on the rows of
    ``components_`` (atoms) or of ``codes`` (per-sample codes); ``mean_hoyer`` averages the result.
    """
    magnitude = np.abs(_as_float(A))
    n = magnitude.shape[axis]
    if n <= 1:
        return np.zeros(np.delete(magnitude.shape, axis))
    # Sparseness is scale invariant: divide each vector by its largest magnitude to avoid overflow.
    peak = magnitude.max(axis=axis, keepdims=True)
    magnitude = np.divide(magnitude, peak, out=np.zeros_like(magnitude), where=peak > 0)
    l1 = magnitude.sum(axis=axis, dtype=np.float64)
    l2 = np.sqrt(np.square(magnitude).sum(axis=axis, dtype=np.float64))
    root_n = np.sqrt(n)
    ratio = np.divide(l1, l2, out=np.full_like(l1, root_n), where=l2 > 0)
    return np.clip((root_n - ratio) / (root_n - 1.0), 0.0, 1.0)


def mean_hoyer(A, axis: int = -1) -> float:
    """Mean Hoyer sparseness of the vectors of ``A`` along ``axis``: ``hoyer_sparseness(A, axis).mean()``."""
    return float(np.mean(hoyer_sparseness(A, axis)))


# -- dictionary recovery -------------------------------------------------------------------------------
def _unit_rows(A: np.ndarray) -> np.ndarray:
    """The rows of ``A`` divided by their Euclidean norm; zero rows stay zero."""
    A = np.asarray(A, dtype=np.float64)
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    return np.divide(A, norms, out=np.zeros_like(A), where=norms > 0)


def cosine_similarity_matrix(A, B, absolute: bool = True) -> np.ndarray:
    """Cosine similarity of every row of A with every row of B: ``S_ij = <a_i, b_j> / (||a_i|| ||b_j||)``.

    Shape (n_a, n_b). A zero row has similarity 0 with everything. ``absolute`` returns ``|S_ij|``,
    the right score for atoms, whose sign is arbitrary (an atom and its negation span the same line).
    """
    A, B = _as_matrix(A, "A"), _as_matrix(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A has {A.shape[1]} features and B has {B.shape[1]}; rows must be the same length.")
    similarity = np.clip(_unit_rows(A) @ _unit_rows(B).T, -1.0, 1.0)
    return np.abs(similarity) if absolute else similarity


@dataclass(frozen=True)
class AtomMatching:
    """A one-to-one matching of the rows of A with the rows of B, best match first.

    Row ``rows[k]`` of A is paired with row ``cols[k]`` of B at absolute cosine ``similarity[k]``;
    ``similarity`` is decreasing. ``unmatched_a`` / ``unmatched_b``: rows left over when the counts differ.
    """

    rows: np.ndarray
    cols: np.ndarray
    similarity: np.ndarray
    unmatched_a: np.ndarray
    unmatched_b: np.ndarray

    @property
    def mean_similarity(self) -> float:
        """``(1 / k) sum_k similarity[k]`` over the ``k = min(n_a, n_b)`` matched pairs (NaN when none)."""
        return float(np.mean(self.similarity)) if self.similarity.size else math.nan


def match_atoms(A, B) -> AtomMatching:
    """Match rows of A to rows of B one to one, maximising the total absolute cosine similarity.

    Solves ``max_{pi} sum_k |cos(a_k, b_pi(k))|`` over injective matchings of the smaller set into the
    larger (the Hungarian method, ``scipy.optimize.linear_sum_assignment``), so it recovers a permuted,
    sign-flipped copy exactly.
    """
    similarity = cosine_similarity_matrix(A, B, absolute=True)
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    pair_similarity = similarity[rows, cols]
    order = np.argsort(-pair_similarity, kind="stable")
    n_a, n_b = similarity.shape
    return AtomMatching(
        rows=rows[order],
        cols=cols[order],
        similarity=pair_similarity[order],
        unmatched_a=np.setdiff1d(np.arange(n_a), rows),
        unmatched_b=np.setdiff1d(np.arange(n_b), cols),
    )


def mcc(A, B) -> float:
    """Mean correlation coefficient: ``(1 / k) sum_k |cos(a_k, b_pi(k))|`` for the optimal matching of ``match_atoms``.

    One-to-one: each learned atom can account for only one true atom (compare ``mmcs``).
    """
    return match_atoms(A, B).mean_similarity


def mmcs(true_atoms, learned_atoms) -> float:
    """Mean max cosine similarity: ``(1 / n_true) sum_i max_j |cos(t_i, l_j)|``.

    Not one-to-one: several true atoms may be credited to the same learned atom, so ``mmcs >= mcc``
    when there are at least as many learned atoms as true ones.
    """
    return float(cosine_similarity_matrix(true_atoms, learned_atoms).max(axis=1).mean())


# -- baselines ------------------------------------------------------------------------------------------
def pca_mse(X, n_components: int, center: bool = True) -> float:
    """MSE of the best rank-r linear reconstruction of X (PCA), the floor any r-atom linear model meets.

    With ``X_c = X - mean`` (or ``X`` itself when ``center`` is False) and singular values
    ``s_1 >= s_2 >= ...``, Eckart-Young gives ``PCA_MSE(r) = (1 / (n d)) sum_{k > r} s_k^2``: the
    discarded eigenvalues of ``X_c^T X_c``, which is exactly ``mse(X, PCA reconstruction)``.
    ``r = n_components`` is clamped to ``min(n, d)``.
    """
    return pca_mse_by_rank(X, [n_components], center)[int(n_components)]


def pca_mse_by_rank(X, ranks, center: bool = True) -> dict[int, float]:
    """``pca_mse`` for several ranks from one eigendecomposition: ``{rank: PCA_MSE(rank)}``. Rank 0 gives the total
    (centred) energy per entry, the denominator of the FVU of PCA."""
    X = _as_matrix(X, "X")
    ranks = [int(r) for r in ranks]
    if any(r < 0 for r in ranks):
        raise ValueError(f"n_components must be >= 0, got {min(ranks)}.")
    n_samples, n_features = X.shape
    X = X - X.mean(axis=0, dtype=np.float64) if center else X.astype(np.float64)
    # the squared singular values are the eigenvalues of the smaller Gram matrix: 7x faster than an SVD
    # of a tall X (5 s -> 0.7 s at 70000 x 784), and as exact in float64 for a sum of them
    gram = X.T @ X if n_samples >= n_features else X @ X.T
    energy = np.clip(np.linalg.eigvalsh(gram), 0.0, None)[::-1]  # descending; round-off can dip below 0
    return {r: float(np.sum(energy[min(r, n_samples, n_features):]) / (n_samples * n_features)) for r in ranks}


# -- a fitted model -------------------------------------------------------------------------------------
def evaluate(model, X, codes=None) -> dict[str, float]:
    """The headline metrics of a fitted model with ``transform``, ``inverse_transform`` and ``components_``.

    Returns ``{'mse', 'fvu', 'l0', 'dead_fraction', 'hoyer_atoms', 'hoyer_codes'}`` as floats, where
    ``X_hat = inverse_transform(codes)``; the codes are ``transform(X)`` unless given (computed once). A code
    is active above the model's ``activity_threshold`` (0.5 for sigmoid codes, else 0), as in its training.
    """
    threshold = activity_threshold(model)
    X = _as_matrix(X, "X")
    codes = _as_matrix(model.transform(X) if codes is None else codes, "codes")
    X_hat = model.inverse_transform(codes)
    return {
        "mse": mse(X, X_hat),
        "fvu": fvu(X, X_hat),
        "l0": l0(codes, threshold),
        "dead_fraction": dead_fraction(codes, threshold),
        "hoyer_atoms": mean_hoyer(model.components_),
        "hoyer_codes": mean_hoyer(codes),
    }


# -- training dynamics ------------------------------------------------------------------------------
def plateau_levels(losses, window: int = 5, flat: float = 0.1, distinct: float = 0.15) -> list[float]:
    """The levels at which a loss curve rests, first to last: runs of at least ``window`` logged values
    (each the median of it and its neighbours) whose range is under ``flat`` of the curve's whole range;
    levels closer than ``distinct`` of that range count as one. A curve that falls in steps (Refinetti &
    Goldt's sequential learning) has several; a smooth fall has one, its end."""
    raw = np.asarray(losses, dtype=float)
    smooth = np.array([np.median(raw[max(0, i - 1):i + 2]) for i in range(raw.size)])
    span = smooth.max() - smooth.min() if smooth.size else 0.0
    levels, start = [], 0
    while start + window <= smooth.size:
        end = start + window
        if np.ptp(smooth[start:end]) >= flat * span:
            start += 1
            continue
        while end < smooth.size and np.ptp(smooth[start:end + 1]) < flat * span:
            end += 1
        level = float(np.median(smooth[start:end]))
        if not levels or abs(levels[-1] - level) >= distinct * span:
            levels.append(level)
        start = end
    return levels
