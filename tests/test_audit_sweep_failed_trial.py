"""A trial that fails on the Sweep page is named with its reason (issue 21: 'a failed trial is reported and
the others go on'), not only counted; the status line says its state once."""

from __future__ import annotations

import pytest

from app_support import open_page


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))


def test_the_page_names_the_failed_trial_and_why(store):
    at = open_page("views/sweep.py")
    at.selectbox(key="sweep:param").set_value("n_components").run()
    at.text_input(key="sweep:values:n_components").set_value("4, 100").run()  # digits has 64 features
    at.multiselect(key="sweep:models:n_components").set_value(["pca"]).run()
    at.toggle(key="sweep:refs").set_value(False).run()
    at.button(key="sweep:start").click().run()
    assert not at.exception and not at.error
    assert at.session_state["_sweep_page"].job.wait(120)
    at.run()
    assert not at.exception
    status = at.get("progress")[0].proto.text
    warnings = " ".join(w.value for w in at.warning)
    assert "pca · n_components=100" in warnings and "n_components=100 is more than" in warnings
    assert "n_components=4" not in warnings  # the trial that trained is not named as failed
    assert status.startswith("**Done** · 1 of 2 trials failed.")  # not "Done · Done. 1 of 2 ..."
