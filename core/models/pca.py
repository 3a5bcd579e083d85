"""Principal component analysis in closed form, on the model's torch device (eigenfaces)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from core.models.base import TorchEstimator

# rows of data turned into float64 at a time when forming the covariance (bounds the extra memory)
_CHUNK_ROWS = 8192


class PCA(TorchEstimator):
    """Principal component analysis: the linear subspace that keeps the most variance.

    PCA finds the orthonormal axes ``V`` (n_components x n_features) minimising the squared
    reconstruction error ``||X_c - X_c V^T V||_F^2`` of the centred data ``X_c = X - mean_``; they are
    the leading right singular vectors of ``X_c`` (the eigenvectors of its covariance). Solved in
    closed form with ``torch.linalg`` in float64 on ``device``: ``eigh`` of the
    n_features x n_features covariance when n_samples >= n_features, else an SVD of ``X_c``.

    Parameters
    ----------
    n_components : int or None, default=None
        Number of principal axes to keep; None keeps min(n_samples, n_features).
    whiten : bool, default=False
        Scale the codes to unit variance (divide by ``sqrt(explained_variance_)``).
    random_state : None, int or RandomState, default=None
        Unused (the solution is deterministic); kept so PCA takes the same parameters as other models.
    device : {'auto', 'cpu', 'cuda'} or torch.device, default='auto'

    Attributes
    ----------
    components_ : ndarray (n_components, n_features)
        Unit-norm principal axes ordered by explained variance (the eigenfaces). Each sign is fixed so
        that the entry of largest magnitude is positive, which makes the result deterministic.
    mean_ : ndarray (n_features,)
    explained_variance_ : ndarray (n_components,)
        Variance of the data along each axis (denominator n_samples - 1, like scikit-learn).
    explained_variance_ratio_ : ndarray (n_components,)
    singular_values_ : ndarray (n_components,)
    n_components_ : int
    history_ : list of dict
        One row ``{'step': 1, 'loss': mse, 'mse': mse}``: mse is the mean squared reconstruction error
        per entry on the training data, so PCA sits on the same charts as the trained models.
    """

    _weight_names = ("components_", "mean_", "explained_variance_")
    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "whiten": ["boolean"],
        "random_state": ["random_state"],
        "device": [str, torch.device],
    }

    def __init__(self, n_components=None, *, whiten=False, random_state=None, device="auto"):
        self.n_components = n_components
        self.whiten = whiten
        self.random_state = random_state
        self.device = device

    def fit(self, X, y=None):
        """Find the principal axes of ``X`` (n_samples, n_features)."""
        self._validate_params()
        X = self._validate(X, reset=True)
        n_samples, n_features = X.shape
        max_components = min(n_samples, n_features)
        n_components = max_components if self.n_components is None else int(self.n_components)
        if n_components > max_components:
            raise ValueError(
                f"n_components={n_components} is more than min(n_samples, n_features) = "
                f"min({n_samples}, {n_features}) = {max_components}. "
                f"Choose n_components <= {max_components} or pass more samples."
            )

        with torch.no_grad():
            X_t = self._tensor(X)
            mean = X_t.double().mean(dim=0)
            squared_singular, axes = singular_axes(X_t, mean)  # all of them, largest first
            axes = _flip_signs(axes[:n_components])

        # sum of squares of the centred data = sum of all squared singular values
        squared_singular = squared_singular.clamp_min(0)  # eigh can return -1e-13 for 0
        total_ss = squared_singular.sum()
        kept_ss = squared_singular[:n_components]
        ddof_denominator = max(n_samples - 1, 1)
        total_var = total_ss / ddof_denominator
        residual_ss = (total_ss - kept_ss.sum()).clamp_min(0)
        mse = float(residual_ss / (n_samples * n_features))

        self.n_components_ = n_components
        self.components_ = axes.float().cpu().numpy()
        self.mean_ = mean.float().cpu().numpy()
        self.explained_variance_ = (kept_ss / ddof_denominator).float().cpu().numpy()
        ratio = kept_ss / ddof_denominator / total_var if float(total_var) > 0 else torch.zeros_like(kept_ss)
        self.explained_variance_ratio_ = ratio.float().cpu().numpy()
        self.singular_values_ = kept_ss.sqrt().float().cpu().numpy()
        self.history_ = [{"step": 1, "loss": mse, "mse": mse}]
        return self

    # -- the transformer API (the base's transform / inverse_transform call these) ---------------
    def _scale(self, like: torch.Tensor) -> torch.Tensor:
        """Per-component scale of the codes: sqrt(explained variance) when whitening, else 1."""
        std = torch.as_tensor(self.explained_variance_, device=like.device).sqrt()
        # a zero-variance axis would divide by zero; scikit-learn clips at eps the same way
        return std.clamp_min(torch.finfo(std.dtype).eps)

    def _encode(self, X: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean_, device=X.device)
        components = torch.as_tensor(self.components_, device=X.device)
        codes = (X - mean) @ components.T
        return codes / self._scale(X) if self.whiten else codes

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        mean = torch.as_tensor(self.mean_, device=codes.device)
        components = torch.as_tensor(self.components_, device=codes.device)
        if self.whiten:
            codes = codes * self._scale(codes)
        return codes @ components + mean

    def current_components(self) -> np.ndarray:
        """The principal axes (PCA has no running fit; same call as the iterative models)."""
        check_is_fitted(self)
        return self.components_


def singular_axes(X: torch.Tensor, mean: torch.Tensor,
                  scatter_dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared singular values (descending) and right singular vectors (rows) of ``X - mean``, in float64.

    ``scatter_dtype`` is the precision the covariance is summed in (float32 is 3x faster on a CPU and
    enough for a starting point such as NMF's NNDSVD; PCA itself keeps float64).

    Tall data: eigh of the small covariance, built in chunks so that only a slice of the data is ever
    held in float64. Wide data (eigenfaces: fewer images than pixels): a thin SVD of the data itself,
    which stays orthonormal even for the zero-variance axes that centring creates.
    """
    n_samples, n_features = X.shape
    if n_samples >= n_features:
        scatter = torch.zeros(n_features, n_features, dtype=scatter_dtype, device=X.device)
        for start in range(0, n_samples, _CHUNK_ROWS):
            chunk = X[start:start + _CHUNK_ROWS].to(scatter_dtype) - mean.to(scatter_dtype)
            scatter += chunk.T @ chunk
        eigenvalues, eigenvectors = torch.linalg.eigh(scatter.double())  # ascending
        return eigenvalues.flip(0), eigenvectors.flip(1).T
    _, singular_values, axes = torch.linalg.svd(X.double() - mean, full_matrices=False)
    return singular_values**2, axes


def _flip_signs(axes: torch.Tensor) -> torch.Tensor:
    """Make each row's largest-magnitude entry positive (scikit-learn's ``svd_flip`` on V)."""
    if axes.numel() == 0:
        return axes
    largest = axes.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(torch.gather(axes, 1, largest))
    signs[signs == 0] = 1
    return axes * signs
