"""The Sweep page's pickers of runs list the trials in the grid's order, the first trial picked by default (the
store lists the newest first: the last trial was picked); its captions name metrics as the axis pickers do."""

from __future__ import annotations

import pytest

from app_support import open_page
from test_sweep_one_click import save_trials


@pytest.fixture
def trials(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    return save_trials(tmp_path / "runs")  # k = 2, 4, 6, saved in that order


def test_the_first_trial_of_the_grid_is_shown_first(trials):
    at = open_page("views/sweep.py")
    at.toggle(key="sweep:refs").set_value(False).run()
    assert not at.exception
    picker = at.selectbox(key="sweep:atoms")
    assert picker.options[:1] and picker.value == trials[0].id
    assert [o for o in picker.options] == [picker.format_func(t.id) for t in trials]
    captions = " ".join(c.value for c in at.caption)
    assert "coloured by FVU" in captions
    assert "non-negative" in at.toggle(key="sweep:refs").help
