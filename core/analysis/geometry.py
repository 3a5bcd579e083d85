"""Principal angles between subspaces, and their trace over a linear autoencoder's training."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from core import metrics
from core.training import TrainControl


# -- geometry ---------------------------------------------------------------------------------------
def _rows(A) -> np.ndarray:
    A = np.asarray(metrics.as_numpy(A), dtype=np.float64)
    if A.ndim != 2 or A.shape[0] == 0:
        raise ValueError(f"Need a 2-D array of row vectors, got shape {A.shape}.")
    return A


def principal_angles(A, B) -> np.ndarray:
    """The principal angles in degrees, smallest first, between the spans of the rows of A and of B.

    With orthonormal bases Qa, Qb the cosines are the singular values of ``Qa^T Qb``; there are
    ``min(rank A, rank B)`` of them (scipy's ``subspace_angles``). Identical spans give all zeros;
    orthogonal ones give 90.
    """
    A, B = _rows(A), _rows(B)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A has {A.shape[1]} features and B {B.shape[1]}; they must match.")
    if not A.any() or not B.any():  # the span of zero vectors has no basis, so no angle
        return np.zeros(0)
    return np.sort(np.degrees(scipy.linalg.subspace_angles(A.T, B.T)))


def subspace_angle(A, B) -> float:
    """The largest principal angle (degrees) between the row spans of A and B: 0 when one contains the other."""
    angles = principal_angles(A, B)
    return float(angles.max()) if angles.size else 90.0


def pc_angles(atoms, components) -> np.ndarray:
    """For each row ``c`` of ``components``: the angle (degrees) between ``c`` and the span of ``atoms``.

    ``arccos(||P c|| / ||c||)`` with ``P`` the projection onto the atoms' span: 0 once the atoms span
    that component, 90 while they are orthogonal to it.
    """
    atoms = _rows(atoms)
    Q = scipy.linalg.orth(atoms.T) if atoms.any() else np.zeros((atoms.shape[1], 0))
    C = np.asarray(metrics.as_numpy(components), dtype=np.float64)
    norms = np.linalg.norm(C, axis=1)
    projected = np.linalg.norm(C @ Q, axis=1)
    cosines = np.divide(projected, norms, out=np.zeros_like(norms), where=norms > 0)
    return np.degrees(np.arccos(np.clip(cosines, 0.0, 1.0)))


def top_principal_components(X, n: int) -> np.ndarray:
    """The top ``n`` principal axes of ``X`` (unit rows, largest variance first), from the SVD of the centred data."""
    X = np.asarray(metrics.as_numpy(X), dtype=np.float64)
    X = X - X.mean(axis=0)
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    return Vt[: max(1, min(int(n), Vt.shape[0]))]


@dataclass(frozen=True)
class SubspaceTrace:
    """Angles between a model's atom span and the top principal components, at each logged step.

    ``angle[t]`` is the largest principal angle (degrees) at ``steps[t]``; ``pc_angles[t, i]`` is the
    angle of principal component i (largest variance first) to the span; ``mse[t]`` the logged error.
    """

    steps: np.ndarray
    angle: np.ndarray
    pc_angles: np.ndarray
    mse: np.ndarray

    @property
    def n_components(self) -> int:
        return int(self.pc_angles.shape[1]) if self.pc_angles.ndim == 2 else 0


def subspace_trace(model, X, n_pcs: int | None = None, control: TrainControl | None = None) -> SubspaceTrace:
    """Fit ``model`` (an unfitted iterative estimator, e.g. a ``linear-ae``) on ``X`` and record, at every
    logged step (``log_every``), the angle of its atoms' span to the top ``n_pcs`` principal components.

    ``n_pcs`` defaults to ``n_components``. A run store keeps metrics, not atoms over time, so this is a
    re-fit with the run's parameters: with the same ``random_state`` it follows the same trajectory.
    """
    if not hasattr(model, "fit_iter"):
        raise ValueError(f"{type(model).__name__} is fitted in closed form; there is no training to trace.")
    X = np.asarray(metrics.as_numpy(X), dtype=np.float32)
    n_pcs = int(n_pcs or getattr(model, "n_components", None) or 1)
    pcs = top_principal_components(X, n_pcs)
    steps, angle, per_pc, mse = [], [], [], []
    for row in model.fit_iter(X, control):
        atoms = model.current_components()
        steps.append(int(row["step"]))
        per_pc.append(pc_angles(atoms, pcs))
        angle.append(subspace_angle(atoms, pcs))
        mse.append(float(row.get("mse", math.nan)))
    return SubspaceTrace(np.asarray(steps), np.asarray(angle), np.asarray(per_pc).reshape(len(steps), -1),
                         np.asarray(mse))
