"""An uploaded file's data set label ('upload: NAME') comes from the one definition the CLI and Inspect read it
back with (core.interop.UPLOAD_PREFIX), not a second copy in ui/session.py."""

from __future__ import annotations

from core import interop
from core.cli_train import UPLOAD_PREFIX
from ui import session


def test_an_upload_is_labelled_with_core_interops_prefix(monkeypatch):
    choice = session.DataChoice(name="upload", upload="acts.npy", upload_id="1")
    assert choice.label == "upload: acts.npy"
    assert choice.label.removeprefix(UPLOAD_PREFIX) == "acts.npy"
    monkeypatch.setattr(interop, "UPLOAD_PREFIX", "file: ")
    assert choice.label == "file: acts.npy"


def test_a_built_in_set_is_labelled_by_its_name():
    assert session.DataChoice(name="digits").label == "digits"
