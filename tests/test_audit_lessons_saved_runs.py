"""Which saved runs count as a lesson's runs (Compare's Two saved runs and the lesson's measure of them): a run
counts only when the settings that tell the lesson's runs apart are its run's, those the run leaves at its
model's default too. Before, a second plain-SGD run of learning-in-steps passed for its Adam run (the Adam run
sets no optimizer), and the lesson measured two SGD runs as 'SGD vs Adam'."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core import lessons, models
from ui import lessons as lesson_ui
from ui import session


def _record(record_id: str, run: lessons.Run) -> SimpleNamespace:
    """A saved run of ``run`` as the run store keeps it: every parameter of the model."""
    return SimpleNamespace(id=record_id, model=run.model, params={**models.default_params(run.model),
                                                                  "random_state": 0, **run.params})


@pytest.fixture
def open_lesson_named():
    def open_named(name: str) -> lessons.Lesson:
        session.get().lesson = name
        return lessons.get(name)
    yield open_named
    session.get().lesson = None


def test_two_plain_sgd_runs_are_not_the_sgd_and_adam_runs(open_lesson_named):
    lesson = open_lesson_named("learning-in-steps")
    sgd, adam = lesson.runs
    assert lesson_ui.saved_picks([_record("sgd-2", sgd), _record("sgd-1", sgd)]) is None
    assert lesson_ui.saved_picks([_record("sgd-2", sgd), _record("adam", adam), _record("sgd-1", sgd)]) == (
        "sgd-2", "adam")


def test_a_second_non_negative_sae_is_not_the_signed_one(open_lesson_named):
    lesson = open_lesson_named("when-sae-and-nmf-agree")
    nmf, parts, signed = lesson.runs
    records = [_record("parts-2", parts), _record("parts-1", parts), _record("nmf", nmf)]
    assert lesson_ui._newest_runs(records, lesson) == [records[2], records[0], None]
    records.insert(0, _record("signed", signed))
    assert [record.id for record in lesson_ui._newest_runs(records, lesson)] == ["nmf", "parts-2", "signed"]
