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
    # the front leaves out a point that another equals on one metric and beats on the other (same L0 for one k)
    assert "no other setting is as good on both and better on one" in captions
    assert "non-negative" in at.toggle(key="sweep:refs").help


def test_two_sweeps_shown_are_listed_one_after_the_other_each_in_its_grids_order():
    from core.analysis.frontier import grid_order

    rows = [{"model": "sae-topk", "k": k, "seed": 0, "sweep": sweep, "run_id": f"{sweep}{k}"}
            for sweep, k in (("a", 4), ("a", 2), ("b", 5), ("b", 3))]  # the store's order: newest first
    assert [r["run_id"] for r in grid_order(rows, ["k"])] == ["a2", "a4", "b3", "b5"]
