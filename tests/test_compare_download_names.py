"""Compare's left and right downloads (atom grid, single atoms, weights) get distinct file names when the two
runs share a name, so saving both does not overwrite one with the other; runs of different names keep theirs."""

from __future__ import annotations

from app_support import open_page
from core import datasets, models
from core.store import RunStore


def _download_names(tmp_path, monkeypatch, page_downloads, left_name: str, right_name: str) -> set:
    """The file names of Compare's downloads for an NMF run and an SAE run saved under the given names."""
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    store, ds = RunStore(tmp_path / "runs"), datasets.load("digits")
    for model, run_name in ((models.create("nmf", n_components=8, max_steps=20), left_name),
                            (models.create("sae-topk", n_components=8, k=2, max_steps=20), right_name)):
        store.save_run(model.set_params(random_state=0).fit(ds.X), dataset="digits", X=ds.X,
                       image_shape=ds.image_shape, name=run_name)
    at = open_page("views/compare.py")
    assert not at.exception and not at.error
    return set(page_downloads)


def test_two_runs_of_one_name_download_to_two_file_names(tmp_path, monkeypatch, page_downloads):
    names = _download_names(tmp_path, monkeypatch, page_downloads, "digits run", "digits run")
    for kind in ("atoms.png", "atoms.zip", "weights.zip"):
        assert {f"digits_run-left-{kind}", f"digits_run-right-{kind}"} <= names, sorted(names)


def test_runs_of_different_names_keep_their_own_file_names(tmp_path, monkeypatch, page_downloads):
    names = _download_names(tmp_path, monkeypatch, page_downloads, "parts", "atoms")
    assert {"parts-weights.zip", "atoms-weights.zip", "parts-atoms.png", "atoms-atoms.png"} <= names, sorted(names)
