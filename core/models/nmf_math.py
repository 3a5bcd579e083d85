"""NMF's plain math on torch tensors (``core.models.nmf`` steps with it): the NNDSVD and random starts, one
HALS pass, and the multiplicative updates' denominators, each a function of its arguments only (as
scikit-learn's ``_nmf.py`` keeps them)."""

from __future__ import annotations

import torch

from core.models.pca import singular_axes

#: samples handled at a time where a whole n_samples x n_features product would be too large
CHUNK_ROWS = 8192


def with_ridge(gram: torch.Tensor, l2: float) -> torch.Tensor:
    return gram + l2 * torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device) if l2 else gram


def penalised(product: torch.Tensor, factor: torch.Tensor, l1: float, l2: float) -> torch.Tensor:
    """The denominator of a multiplicative update: product + l1 + l2 * factor (no kernel for a zero term)."""
    if l1:
        product = product + l1
    if l2:
        product = product + l2 * factor
    return product


def hals_rows(A: torch.Tensor, cross: torch.Tensor, gram: torch.Tensor) -> None:
    """One HALS pass, in place, over the rows of A >= 0 for min 0.5||Y - A^T B||^2 (+ penalties).

    ``A`` is (rank x m) with contiguous rows, ``cross`` = B Y^T - l1 (rank x m) and ``gram`` = B B^T + l2 I.
    Row j gets its exact non-negative minimiser with the others fixed (scikit-learn's
    ``_update_cdnmf_fast``): a_j <- max(0, a_j + (cross_j - sum_i gram_ji a_i) / gram_jj), written as
    max(0, cross_j / gram_jj - sum_i (gram_ji / gram_jj - [i = j]) a_i): one matrix-vector product and
    one clamp per row (two kernels, no host sync), the scaling done once for the whole pass.
    """
    # an all-zero atom has a zero diagonal: its row then moves by 0 / tiny = 0 instead of NaN
    diagonal = gram.diagonal().clamp_min(torch.finfo(gram.dtype).tiny)[:, None]
    scaled = gram / diagonal
    scaled.diagonal().sub_(1)
    cross = cross / diagonal
    buffer = torch.empty_like(A[0])
    for a, c, g in zip(A.unbind(0), cross.unbind(0), scaled.unbind(0)):
        torch.addmv(c, A.T, g, alpha=-1, out=buffer)
        torch.clamp_min(buffer, 0, out=a)


def initialize(X: torch.Tensor, rank: int, init: str, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """W (n_samples x rank) and H (rank x n_features), as ``sklearn.decomposition._initialize_nmf``.

    ``generator`` is called only for the random inits, so the NNDSVD ones need no seed.
    """
    n_samples, n_features = X.shape
    mean = X.mean()
    if init == "random":
        gen = generator()
        scale = (mean / rank).sqrt()
        H = scale * torch.randn(rank, n_features, generator=gen, device=X.device).abs()
        W = scale * torch.randn(n_samples, rank, generator=gen, device=X.device).abs()
        return W, H

    k = min(rank, n_samples, n_features)
    squared_singular, V = singular_axes(X, torch.zeros((), dtype=torch.float64, device=X.device),
                                        scatter_dtype=torch.float32)
    S, V = squared_singular[:k].clamp_min(0).sqrt(), V[:k]
    tiny = torch.finfo(torch.float64).tiny
    # Singular values at rounding level (rank above the data's, e.g. n_components=None on digits, whose
    # border pixels are always 0) give no direction: their left vectors are 0 (x / inf), not x / 0 = NaN,
    # so their components start at the fill value like those beyond min(n_samples, n_features).
    resolved = S > S[:1] * 1e-7
    U = torch.cat([chunk.double() @ V.T for chunk in X.split(CHUNK_ROWS)]) / torch.where(
        resolved, S.clamp_min(tiny), torch.inf)

    # each pair (u, v) keeps its larger non-negative part: (u+, v+) or (u-, v-)
    U_pos, U_neg, V_pos, V_neg = U.clamp_min(0), (-U).clamp_min(0), V.clamp_min(0), (-V).clamp_min(0)
    nu_pos, nu_neg = U_pos.norm(dim=0), U_neg.norm(dim=0)
    nv_pos, nv_neg = V_pos.norm(dim=1), V_neg.norm(dim=1)
    take_pos = nu_pos * nv_pos > nu_neg * nv_neg
    sigma = torch.where(take_pos, nu_pos * nv_pos, nu_neg * nv_neg)
    u = torch.where(take_pos, U_pos / nu_pos.clamp_min(tiny), U_neg / nu_neg.clamp_min(tiny))
    v = torch.where(take_pos[:, None], V_pos / nv_pos.clamp_min(tiny)[:, None], V_neg / nv_neg.clamp_min(tiny)[:, None])
    lam = (S * sigma).sqrt()
    # the leading pair of a non-negative matrix is one-signed (Perron): take it whole
    lam[0], u[:, 0], v[0] = S[0].sqrt(), U[:, 0].abs(), V[0].abs()

    W = torch.zeros(n_samples, rank, dtype=torch.float32, device=X.device)
    H = torch.zeros(rank, n_features, dtype=torch.float32, device=X.device)
    W[:, :k] = (lam * u).float()
    H[:k] = (lam[:, None] * v).float()
    W[W < 1e-6] = 0
    H[H < 1e-6] = 0
    if init == "nndsvda":
        W[W == 0] = mean
        H[H == 0] = mean
    elif init == "nndsvdar":
        gen = generator()
        for factor in (W, H):
            zeros = factor == 0
            noise = torch.randn(int(zeros.sum()), generator=gen, device=X.device)
            factor[zeros] = (mean * noise / 100).abs()
    return W, H
