"""Train with no data set loaded (offline, an online set not yet cached): the Train button is disabled and
the status line says the page is not ready, instead of 'Ready: press Train.' beside the data error."""

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
