"""The Sweep page refuses a non-negative model on centred data with the fix that works (turn Center off, then
scale = minmax: centring comes after scaling), as Train and Compare do, not 'choose scale = minmax' alone."""

from __future__ import annotations

from app_support import open_page


def test_centred_digits_are_refused_on_sweep_with_the_fix_that_works(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    at = open_page("views/data.py")
    at.toggle(key="data:digits:center").set_value(True).run()
    at.switch_page("views/sweep.py").run()
    at.selectbox(key="sweep:param").set_value("n_components").run()
    at.multiselect(key="sweep:models:n_components").set_value(["nmf"]).run()
    at.button(key="sweep:start").click().run()
    assert not at.exception
    said = at.error[0].value
    assert "non-negative" in said and "turn Center off" in said, said
    assert at.session_state["_sweep_page"].job is None
