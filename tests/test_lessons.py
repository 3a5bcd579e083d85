"""Lessons: every classic result of the research notes is reproduced, at CPU size, in its expected range;
the command line lists and runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core import datasets, lessons, models
from tests.lesson_fixtures import no_downloads, olivetti_cache  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def online_sets_cached(olivetti_cache):
    """A lesson on Olivetti runs on a small Olivetti-shaped cache of real faces written here (never a download):
    its code path and its measure are exercised offline."""


def test_every_lesson_is_complete_and_points_at_real_data_and_models():
    assert len(lessons.names()) >= 4
    for name in lessons.names():
        lesson = lessons.get(name)
        assert lesson.title and lesson.paper and len(lesson.look_for) > 80
        assert lesson.data in datasets.available()
        for run in lesson.runs:
            models.create(run.model, **run.params)  # a bad parameter name fails here
        assert lesson.expected and all(low <= high for low, high in lesson.expected.values())
        assert lesson.page in ("train", "compare")


@pytest.mark.parametrize("name", lessons.names())
def test_each_lesson_reproduces_its_result(name):
    result = lessons.run(name, device="cpu")
    assert set(result["outcome"]) >= set(result["expected"])
    for key, (low, high) in result["expected"].items():
        assert low <= result["outcome"][key] <= high, (name, key, result["outcome"])
    assert result["ok"]


def test_an_unknown_lesson_names_the_known_ones():
    with pytest.raises(ValueError, match="linear-ae-is-pca"):
        lessons.get("eigenfaces-please")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_the_command_line_lists_the_lessons_and_runs_one_with_a_json_last_line():
    listed = _cli("lessons")
    assert listed.returncode == 0
    for name in lessons.names():
        assert name in listed.stdout
    ran = _cli("lesson", "linear-ae-is-pca", "--device", "cpu")
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["lesson"] == "linear-ae-is-pca" and result["ok"] is True
    assert result["expected"]["mse_ratio_to_pca"] == [0.99, 1.01]
    unknown = _cli("lesson", "nope")
    assert unknown.returncode != 0 and "Unknown lesson 'nope'" in unknown.stderr and "Traceback" not in unknown.stderr
