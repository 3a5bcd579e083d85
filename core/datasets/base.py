"""The ``Dataset`` container, the ``DatasetError`` exception and small option checkers.

Kept apart from ``core.datasets.__init__`` so the loader modules can import them without a cycle;
``core.datasets`` re-exports both.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .option_names import places, where_set


class DatasetError(ValueError):
    """A data set could not be loaded. The message names the problem and how to fix it."""


@dataclass
class Dataset:
    """A data matrix ready for a model.

    X: float32 array (n_samples, n_features). image_shape: (height, width) when each row is an image.
    labels: int array (n_samples,) or None. truth: ground-truth atoms (n_atoms, n_features) or None.
    texts: str array (n_samples,) or None: the text (or name) behind each row, e.g. of an embedding.
    label_names: the name of each label value (label_names[i] names label i) when labels were given as
    strings or stand for named classes, else None.
    """

    X: np.ndarray
    name: str
    description: str = ""
    image_shape: tuple[int, int] | None = None
    labels: np.ndarray | None = None
    truth: np.ndarray | None = None
    texts: np.ndarray | None = None
    label_names: tuple[str, ...] | None = None
    options: dict = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def non_negative(self) -> bool:
        """Whether every value is >= 0; computed once per X (pages ask on every rerun: 2 ms at 10000 x 784)."""
        cached = self.__dict__.get("_non_negative")
        if cached is None or cached[0] is not self.X:  # a new X gets a new answer
            cached = self.__dict__["_non_negative"] = (self.X, bool(self.X.min() >= 0))
        return cached[1]


def check_option_names(given: Iterable[str], accepted: Mapping | Iterable[str], where: str) -> None:
    """Raise DatasetError when ``given`` holds option names that ``where`` does not accept."""
    accepted = sorted(accepted)
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        hint = f"Accepted options: {', '.join(accepted)}." if accepted else "It takes no extra options."
        raise DatasetError(
            f"Unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for {where}. "
            f"{hint} Remove or rename the option."
        )


def check_int(name: str, value, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in [low, high], or raise DatasetError saying what is allowed."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise DatasetError(f"Option {name}={value!r} must be a whole number; pass e.g. {_set(name, low)}.")
    value = int(value)
    if value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        raise DatasetError(f"Option {name}={value} is out of range: it must be at least {low}{upper}; "
                           f"e.g. {_set(name, low)}.")
    return value


def check_float(name: str, value, low: float, high: float | None = None, *, low_open: bool = False) -> float:
    """Return ``value`` as a finite float in the interval, or raise DatasetError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise DatasetError(f"Option {name}={value!r} must be a finite number{_where(name)}.")
    value = float(value)
    too_low = value <= low if low_open else value < low
    if too_low or (high is not None and value > high):
        bound = f"greater than {low}" if low_open else f"at least {low}"
        upper = f" and at most {high}" if high is not None else ""
        raise DatasetError(f"Option {name}={value} is out of range: it must be {bound}{upper}{_where(name)}.")
    return value


def check_bool(name: str, value) -> bool:
    """Return ``value`` as a bool; only real booleans (or numpy ones) are accepted."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise DatasetError(f"Option {name}={value!r} must be True or False, e.g. {_set(name, True)}.")


def _set(name: str, value) -> str:
    """``name=value`` and where the page and the CLI set it; a name that is no option (a count derived from
    one) only as itself."""
    return where_set(name, value) if name.isidentifier() else f"{name.split(' ')[0]}={value}"


def _where(name: str) -> str:
    """' (on the Data page: ...; in the CLI: ...)' for an option, nothing for a count derived from one."""
    return f" ({places(name)})" if name.isidentifier() else ""
