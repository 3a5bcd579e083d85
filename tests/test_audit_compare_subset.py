"""Compare and Inspect say when they measure a saved run on a random subset of its data.

Both load at most 10,000 samples of a run's data set (``ui.stored_runs``): the metrics table, the dead
fraction, "Fires on ..." and the sample numbers are of that subset, which the pages did not say.
"""

from __future__ import annotations

import pytest

from app_support import open_page, save_on_digits
from core import datasets, models
from core.store import RunStore

OPTIONS = {"n_samples": 12000}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare-subset") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAE_EXPLORER_RUNS", str(root))
        store, ds = RunStore(root), datasets.load("sparse-synthetic", **OPTIONS)
        saved = [store.save_run(models.create(name, n_components=8, random_state=0, device="cpu", **params).fit(ds.X),
                                dataset="sparse-synthetic", data_options=OPTIONS, X=ds.X)
                 for name, params in (("pca", {}), ("sae-topk", {"k": 2, "max_steps": 20}))]
        yield saved


NOTE = "Measured on a random 10,000 of the data set's 12,000 samples, numbered 0 to 9,999 here."


def test_compare_says_its_metrics_are_of_a_subset(runs):
    at = open_page("views/compare.py")
    assert not at.exception and not at.error, at.exception or at.error
    assert at.table and NOTE in [c.value for c in at.caption]


def test_inspect_says_it_looks_at_a_subset(runs):
    at = open_page("views/inspect.py")
    assert not at.exception and not at.error, at.exception or at.error
    assert NOTE in [c.value for c in at.caption]


def test_a_whole_data_set_needs_no_note(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    save_on_digits(tmp_path / "runs", models.create("pca", n_components=4))
    at = open_page("views/inspect.py")
    assert not at.exception and not any(c.value.startswith("Measured on a random") for c in at.caption)
