"""Lessons: the research notes' classic results as named, one-click setups whose outcome is measured.

A lesson names its data set, the runs it trains (model and settings: what the Train page, or the Compare
page for two runs, is set up with), what to look for, and the paper it comes from. ``run(name)`` trains
it headless and measures its outcome: numbers with the range the paper's result implies
(``Lesson.expected``), so that the test suite can hold every lesson to its claim. A lesson on a data set that
needs a download (``Lesson.online``) cannot run offline until the set is cached: ``run`` then says so
(``ok`` False, ``error`` the loader's message) instead of raising.

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
from core.datasets import DatasetError


@dataclass(frozen=True)
class Run:
    """One model of a lesson, as the page trains it."""

    model: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # how the lesson's text calls it ("NMF", "signed SAE")

    def settings(self) -> dict[str, Any]:
        """Every parameter as ``create`` sets it: the model's defaults, random_state 0, then the run's own (the
        Train page starts from its own defaults otherwise: fewer steps, another activation)."""
        return {**models.default_params(self.model), "random_state": 0, **self.params}

    def create(self):
        return models.create(self.model, **self.settings())


@dataclass(frozen=True)
class Bars:
    """The lesson's outcome drawn as one bar per run (the outcome's numbers in the order of ``runs``): how far
    each lies above ``reference`` (e.g. 1: PCA's error, for errors divided by PCA's), in percent."""

    axis: str  # what a bar's height is, in words
    reference: float
    reference_label: str  # what the reference line is, in words


@dataclass(frozen=True)
class Lesson:
    """A classic result, set up in one click. ``measure(data, fitted)`` gets the data set and the fitted
    estimators in the order of ``runs`` and returns the outcome; ``expected`` bounds each number.
    ``picture(data, fitted)``, when given, draws what the lesson's text asks to look at: (PIL image, caption);
    ``bars`` draws the outcome itself as the main picture."""

    name: str
    title: str
    paper: str
    look_for: str
    data: str
    runs: tuple[Run, ...]
    measure: Callable[[datasets.Dataset, list[Any]], dict[str, float]]
    expected: dict[str, tuple[float, float]]
    data_options: dict[str, Any] = field(default_factory=dict)
    picture: Callable[[datasets.Dataset, list[Any]], tuple[Any, str]] | None = None
    bars: Bars | None = None
    #: an online lesson's stand-in that needs no download (its name), offered while its data set is not here
    offline_alternative: str = ""

    @property
    def online(self) -> bool:
        """Its data set needs a one-time download (then it is cached; offline until then it cannot open)."""
        return self.data in datasets.ONLINE_DATASETS

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


def run(name: str, device: str = "auto", card=None) -> dict[str, Any]:
    """Train lesson ``name`` headless and measure it: {'lesson', 'outcome', 'expected', 'ok', 'seconds'};
    ``ok`` when every outcome lies in its expected range. When its data set cannot be loaded (an online set,
    offline and not cached), ``ok`` is False and ``error`` says why and what to do. ``card`` (a path): the
    picture of its outcome for its Home card is written there too (core.lessons.cards), its path as 'card'."""
    lesson = get(name)
    started = time.perf_counter()
    try:
        data = datasets.load(lesson.data, **lesson.data_options)
    except DatasetError as error:
        return {"lesson": name, "outcome": {}, "expected": {k: list(v) for k, v in lesson.expected.items()},
                "ok": False, "error": str(error), "seconds": time.perf_counter() - started}
    fitted = []
    for spec in lesson.runs:
        model = spec.create()
        if "device" in model.get_params():
            model.set_params(device=device)
        fitted.append(model.fit(data.X))
    outcome = {key: float(value) for key, value in lesson.measure(data, fitted).items()}
    ok = all(low <= outcome[key] <= high for key, (low, high) in lesson.expected.items())
    result = {"lesson": name, "outcome": outcome, "expected": {k: list(v) for k, v in lesson.expected.items()},
              "ok": bool(ok and all(np.isfinite(list(outcome.values()))))}
    if card is not None:
        from core.lessons import cards  # draws with core.render: only when a card is asked for

        result["card"] = str(cards.save(lesson, data, fitted, card))
    return {**result, "seconds": time.perf_counter() - started}
