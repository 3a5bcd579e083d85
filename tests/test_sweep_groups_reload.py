"""A sweep of several models is one sweep after a page reload (issue 21): every trial is saved with the id of
the sweep it was started in (extra 'sweep_group'), the Sweep page shows the newest whole sweep and its picker
lists sweeps by that id; trials saved before that id existed are still grouped by their model's sweep."""

from __future__ import annotations

import pytest

from app_support import open_page
from core import datasets
from core.analysis import frontier
from core.jobs.saving import save_sweep_point
from core.jobs.sweep import SweepJob
from core.store import RunStore
from core.sweep import Sweep, SweepConfig


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    store = RunStore(root)
    X = datasets.load("digits").X[:300]
    # an older one-model sweep, saved without a group id
    old = Sweep(SweepConfig(model="sae-topk", grid={"k": [2]}, base_params={"n_components": 8, "max_steps": 5}))
    old.run(X)
    save_sweep_point(store, old, old.points[0], dataset="digits", X=X)
    job = SweepJob(X, models_=["sae-topk", "sae-batchtopk"], grid={"k": [2, 4]}, store=store, dataset="digits",
                   base_params={m: {"n_components": 8, "max_steps": 5} for m in ("sae-topk", "sae-batchtopk")},
                   baselines=False, processes=False).start()
    assert job.wait(120)
    return root, store, job, old


def test_every_model_of_a_sweep_is_saved_with_one_group(saved):
    _, store, job, old = saved
    runs = [r for r in store.list_runs() if r.sweep != old.id]
    assert len(runs) == 4 and len({r.sweep for r in runs}) == 2  # a sweep id per model, as before
    assert {r.extra["sweep_group"] for r in runs} == {job.group} == {job.snapshot(touch=False).group}
    groups = frontier.groups_of(store.list_runs())
    assert list(groups) == [job.group, old.id]  # the newest first; the old trial by its own sweep id
    assert {r.model for r in groups[job.group]} == {"sae-topk", "sae-batchtopk"}


def test_after_a_reload_the_page_shows_the_whole_newest_sweep(saved, monkeypatch):
    root, store, job, old = saved
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(root))
    at = open_page("views/sweep.py")  # a new session: nothing in memory
    assert not at.exception
    picker = at.multiselect(key="sweep:shown")
    assert picker.value == [job.group] and len(picker.options) == 2
    assert picker.options[0].startswith("sae-batchtopk, sae-topk · k ∈ {2, 4} · digits · 4 trials")
    table = at.dataframe[0].value
    assert set(table["model"]) == {"sae-topk", "sae-batchtopk"} and len(table) == 4
    picker.set_value([old.id]).run()  # the older sweep, saved without a group, is still shown
    assert not at.exception and len(at.dataframe[0].value) == 1
