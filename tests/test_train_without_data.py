"""With no data set loaded (offline, an online set not yet cached), Train's button and Compare's side-by-side
button are disabled: Train's status line says it is not ready (it said 'Ready: press Train.' beside the data
error) and Compare's panel shows the data error (it showed nothing until its button was pressed)."""

from __future__ import annotations

from app_support import open_page
from tests.lesson_fixtures import no_downloads  # noqa: F401 - fixture


def _train_button(at):
    return next(b for b in at.button if b.label == "Train")


def test_train_is_disabled_and_not_ready_without_data(no_downloads):  # noqa: F811 - the fixture
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("olivetti").run()
    at.switch_page("views/train.py").run()
    assert not at.exception
    assert at.error, "the data error is shown"
    assert _train_button(at).disabled
    status = " ".join(p.proto.text for p in at.get("progress"))
    assert "Not ready" in status and "Ready: press" not in status, status


def test_train_is_enabled_and_ready_with_data():
    at = open_page("views/train.py")
    assert not at.exception and not at.error
    assert not _train_button(at).disabled
    assert "Ready: press" in " ".join(p.proto.text for p in at.get("progress"))


def test_compare_side_by_side_is_disabled_and_says_why_without_data(no_downloads, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("olivetti").run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    assert at.button(key="compare:train").disabled
    assert any("olivetti" in e.value.lower() for e in at.error), [e.value for e in at.error]
