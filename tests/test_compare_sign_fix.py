"""Compare's side-by-side panel refuses NMF on centred data with the fix that works (turn Center off:
centring comes after scaling, so scale = minmax alone would still leave values below 0), as Train does."""

from __future__ import annotations

from app_support import open_page


def test_centred_digits_are_refused_on_compare_with_the_fix_that_works(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    at = open_page("views/data.py")
    at.toggle(key="data:digits:center").set_value(True).run()
    at.switch_page("views/compare.py").run()
    at.button(key="compare:train").click().run()
    assert not at.exception
    said = at.error[0].value
    assert "nmf needs non-negative data" in said and "turn Center off" in said, said
    assert not at.session_state["_compare_page"].jobs
