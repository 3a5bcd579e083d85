"""Data sets: ``available()`` lists names, ``load(name_or_path, **options)`` returns a ``Dataset``.

CONTRACT (filled in by the datasets work): built-in names, file paths, and preprocessing options
(n_samples, scale, center, seed, ...). Bad input raises ValueError naming the problem and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """A data matrix ready for a model.

    X: float32 array (n_samples, n_features). image_shape: (height, width) when each row is an image.
    labels: int array (n_samples,) or None. truth: ground-truth atoms (n_atoms, n_features) or None.
    """

    X: np.ndarray
    name: str
    description: str = ""
    image_shape: tuple[int, int] | None = None
    labels: np.ndarray | None = None
    truth: np.ndarray | None = None
    options: dict = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def non_negative(self) -> bool:
        return bool(self.X.min() >= 0)
