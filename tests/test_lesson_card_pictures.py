"""Each lesson's Home card shows its OUTCOME, drawn from a real run (core.lessons.cards), not its data (issue 19)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from PIL import Image

from core import cli, lessons
from core.lessons import cards
from core.render.charts import LINE_CHART_HEIGHT
from tests.app_support import elements, open_page

#: the most bytes a committed card picture may take
MAX_CARD_BYTES = 60_000
OFFLINE = [name for name in lessons.names() if not lessons.get(name).online]


@pytest.mark.parametrize("name", OFFLINE)
def test_every_offline_lesson_has_its_card_with_a_caption(name):
    path = cards.asset(name)
    assert path.is_file(), f"no card for {name}: run `make lesson-cards`"
    assert path.stat().st_size < MAX_CARD_BYTES
    picture, caption = cards.load(name)
    assert picture.width <= cards.CARD_WIDTH and picture.height <= 2 * cards.CARD_WIDTH
    assert len(picture.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 2  # drawn, not blank
    assert caption, f"{name}'s card says nothing of what it shows"


def test_an_online_lesson_has_no_card_asset():
    assert all(not cards.asset(name).exists() for name in lessons.names() if lessons.get(name).online)


def test_card_option_draws_a_small_runs_outcome(tmp_path, monkeypatch, capsys):
    # the linear-AE lesson at 100 steps: its card is the loss curve against PCA's error, at the card's width
    lesson = lessons.get("linear-ae-is-pca")
    short = dataclasses.replace(lesson, runs=tuple(dataclasses.replace(run, params={**run.params, "max_steps": 100})
                                                   for run in lesson.runs))
    monkeypatch.setitem(lessons.LESSONS, lesson.name, short)
    path = tmp_path / "card.png"
    cli.main(["lesson", lesson.name, "--device", "cpu", "--card", str(path)])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["card"] == str(path)
    with Image.open(path) as picture:
        assert picture.size == (cards.CARD_WIDTH, LINE_CHART_HEIGHT)
        assert "PCA's error of rank 8" in picture.info[cards.CAPTION_KEY]


def test_home_shows_each_lessons_card_asset():
    at = open_page("views/home.py")
    assert not at.exception
    captions = [image.proto.imgs[0].caption for image in elements(at, "image")]
    for name in OFFLINE:
        assert cards.load(name)[1] in captions, (name, captions)
