"""Inspect opens a run of one atom: its Sample tab drew a 'Top atoms' slider from 1 to 1, which Streamlit
refuses, so the whole page showed a traceback."""

from __future__ import annotations

from app_support import open_page, save_on_digits
from core import models


def test_a_one_atom_run_opens_on_every_tab(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    save_on_digits(tmp_path / "runs", models.create("pca", n_components=1))
    at = open_page("views/inspect.py")
    assert not at.exception and not at.error, at.exception or at.error
    assert "This run has one atom" in " ".join(c.value for c in at.caption)
    at.number_input(key="inspect:sample").set_value(5).run()
    assert not at.exception and not at.error
    assert any(c.value.startswith("Sample 5 = the mean + the weighted atoms; 1 atom is active") for c in at.caption)
