"""Compare's left and right downloads (atom grid, single atoms, weights) get distinct file names when the two
runs share a name, so saving both does not overwrite one with the other; runs of different names keep theirs."""

from __future__ import annotations

from app_support import open_page
from core import datasets, models
from core.store import RunStore


def _save(store, name, run_name, **params):
    ds = datasets.load("digits")
    model = models.create(name, random_state=0, device="cpu", **params).fit(ds.X)
    return store.save_run(model, dataset="digits", X=ds.X, image_shape=ds.image_shape, name=run_name)


def test_two_runs_of_one_name_download_to_two_file_names(tmp_path, monkeypatch, page_downloads):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    store = RunStore(tmp_path / "runs")
    _save(store, "nmf", "digits run", n_components=8, max_steps=20)
    _save(store, "sae-topk", "digits run", n_components=8, k=2, max_steps=20)
    at = open_page("views/compare.py")
    assert not at.exception and not at.error
    names = set(page_downloads)
    for kind in ("atoms.png", "atoms.zip", "weights.zip"):
        assert {f"digits_run-left-{kind}", f"digits_run-right-{kind}"} <= names, sorted(names)


def test_runs_of_different_names_keep_their_own_file_names(tmp_path, monkeypatch, page_downloads):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    store = RunStore(tmp_path / "runs")
    _save(store, "nmf", "parts", n_components=8, max_steps=20)
    _save(store, "sae-topk", "atoms", n_components=8, k=2, max_steps=20)
    at = open_page("views/compare.py")
    assert not at.exception and not at.error
    assert {"parts-weights.zip", "atoms-weights.zip", "parts-atoms.png", "atoms-atoms.png"} <= set(page_downloads)
