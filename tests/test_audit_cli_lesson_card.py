"""``python -m core lesson NAME --card PATH`` refuses a card path it cannot write before the lesson trains
(minutes), instead of failing after it with the measured outcome lost."""

from __future__ import annotations

import pytest

from core import cli, lessons


@pytest.fixture
def trained(monkeypatch):
    """Records each lesson run instead of training it."""
    calls = []

    def run(name, device="auto", card=None):
        calls.append(name)
        return {"lesson": name, "outcome": {}, "expected": {}, "ok": True, "seconds": 0.0}

    monkeypatch.setattr(lessons, "run", run)
    return calls


def test_a_card_path_that_is_a_folder_is_refused_before_training(trained, tmp_path, capsys):
    code = cli.main(["lesson", "linear-ae-is-pca", "--card", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and trained == []
    assert "is a folder" in err and "card.png" in err


def test_an_unwritable_card_path_is_refused_before_training(trained, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code = cli.main(["lesson", "linear-ae-is-pca", "--card", str(blocker / "card.png")])
    err = capsys.readouterr().err
    assert code == 2 and trained == []
    assert "cannot write --card" in err


def test_a_writable_card_path_runs_the_lesson(trained, tmp_path, capsys):
    assert cli.main(["lesson", "linear-ae-is-pca", "--card", str(tmp_path / "new" / "card.png")]) == 0
    assert trained == ["linear-ae-is-pca"]
