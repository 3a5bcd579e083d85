"""Lessons: the research notes' classic results as named, one-click setups whose outcome is measured.

A lesson names its data set, the runs it trains (model and settings: what the Train page, or the Compare
page for two runs, is set up with), what to look for, and the paper it comes from. ``run(name)`` trains
it headless and measures its outcome: numbers with the range the paper's result implies
(``Lesson.expected``), so that the test suite can hold every lesson to its claim.

    from core import lessons
    lessons.names()                      # ['linear-ae-is-pca', ...]
    lessons.run("linear-ae-is-pca")      # {'outcome': {'mse_ratio_to_pca': 1.0008, ...}, 'ok': True, ...}
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from core import datasets, models


@dataclass(frozen=True)
class Run:
    """One model of a lesson, as the page trains it."""

    model: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # how the lesson's text calls it ("NMF", "signed SAE")

    def create(self):
        return models.create(self.model, random_state=0, **self.params)


@dataclass(frozen=True)
class Lesson:
    """A classic result, set up in one click. ``measure(data, fitted)`` gets the data set and the fitted
    estimators in the order of ``runs`` and returns the outcome; ``expected`` bounds each number."""

    name: str
    title: str
    paper: str
    look_for: str
    data: str
    runs: tuple[Run, ...]
    measure: Callable[[datasets.Dataset, list[Any]], dict[str, float]]
    expected: dict[str, tuple[float, float]]
    data_options: dict[str, Any] = field(default_factory=dict)

    @property
    def page(self) -> str:
        """Where the lesson opens: Train for one run, Compare for two side by side."""
        return "train" if len(self.runs) == 1 else "compare"


LESSONS: dict[str, Lesson] = {}


def register(lesson: Lesson) -> Lesson:
    """Add ``lesson`` to the catalogue (core.lessons.catalogue registers each lesson where it defines it)."""
    LESSONS[lesson.name] = lesson
    return lesson


def _load_catalogue() -> None:
    import core.lessons.catalogue  # noqa: F401 - registers the lessons


def names() -> list[str]:
    _load_catalogue()
    return list(LESSONS)


def get(name: str) -> Lesson:
    _load_catalogue()
    if name not in LESSONS:
        raise ValueError(f"Unknown lesson {name!r}. Lessons: {', '.join(LESSONS)}.")
    return LESSONS[name]


def run(name: str, device: str = "auto") -> dict[str, Any]:
    """Train lesson ``name`` headless and measure it: {'lesson', 'outcome', 'expected', 'ok', 'seconds'};
    ``ok`` when every outcome lies in its expected range."""
    lesson = get(name)
    started = time.perf_counter()
    data = datasets.load(lesson.data, **lesson.data_options)
    fitted = []
    for spec in lesson.runs:
        model = spec.create()
        if "device" in model.get_params():
            model.set_params(device=device)
        fitted.append(model.fit(data.X))
    outcome = {key: float(value) for key, value in lesson.measure(data, fitted).items()}
    ok = all(low <= outcome[key] <= high for key, (low, high) in lesson.expected.items())
    return {"lesson": name, "outcome": outcome, "expected": {k: list(v) for k, v in lesson.expected.items()},
            "ok": bool(ok and all(np.isfinite(list(outcome.values())))),
            "seconds": time.perf_counter() - started}
