"""The autoencoder grid's Home card colours each bar green inside the lesson's expected range and red outside it,
so all four bars are green when the result holds: its caption must say what green means (a teacher read the green
bars as 'reaches PCA's error')."""

from __future__ import annotations

from core import datasets, lessons
from core.lessons import cards

NAME = "autoencoder-grid"
MEANING = "Green: in the range the lesson expects, red: outside it"


def test_the_drawn_card_and_the_committed_one_say_what_the_colours_mean():
    lesson = lessons.get(NAME)
    data = datasets.load(lesson.data, **lesson.data_options)
    fitted = [type(run.create())(**{**run.settings(), "max_steps": 20, "device": "cpu"}).fit(data.X)
              for run in lesson.runs]  # briefly: the caption, not the result
    assert MEANING in cards.picture(lesson, data, fitted)[1]
    assert MEANING in cards.load(NAME)[1]
