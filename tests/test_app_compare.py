"""AppTest: the Compare page on an empty store, with saved runs, and its side-by-side training."""

from __future__ import annotations

import numpy as np
import pytest

from app_support import elements, labels, open_page
from core import datasets, models
from core.store import RunStore


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    return RunStore(tmp_path / "runs")


def _save(store, name, **params):
    ds = datasets.load("digits")
    model = models.create(name, random_state=0, device="cpu", **params).fit(ds.X)
    return store.save_run(model, dataset="digits", X=ds.X, image_shape=ds.image_shape)


def _stop(at):
    page = at.session_state["_compare_page"]
    for job in page.jobs.values():
        job.stop()
        job.wait(30)


def test_empty_store_renders_with_a_clear_message(store):
    at = open_page("pages/compare.py")
    assert not at.exception
    assert "No saved runs yet" in " ".join(i.value for i in at.info)
    assert labels(at.button) == ["Train NMF and SAE side by side", "Stop"]
    assert {"Atoms (both runs)", "k (active codes)"} <= set(labels(at.number_input))
    assert labels(at.selectbox) == ["SAE model"] and labels(at.select_slider) == ["Steps (both runs)"]


def test_saved_runs_are_compared_by_default_latest_nmf_and_latest_sae(store):
    nmf = _save(store, "nmf", n_components=12, max_steps=30)
    sae = _save(store, "sae-topk", n_components=12, k=4, max_steps=60)
    _save(store, "linear-ae", n_components=12, max_steps=30)  # newest, but neither NMF nor an SAE
    at = open_page("pages/compare.py")
    assert not at.exception and not at.error
    assert at.selectbox(key="compare:left").value == nmf.id
    assert at.selectbox(key="compare:right").value == sae.id
    assert {m.label: m.value for m in at.metric}["Matched pairs"] == "12"
    metrics_table = at.dataframe[0].value
    assert list(metrics_table["metric"])[:3] == ["MSE", "FVU", "L0 (active codes per sample)"]
    assert len(elements(at, "image")) == 2  # the paired atoms and the reconstructions
    buttons = {b.proto.label for b in elements(at, "download_button")}
    assert {"Comparison (PNG)", "Metrics table (CSV)", "Left weights (safetensors)",
            "Grid of right atoms (PNG)", "Single left atoms (ZIP of PNGs)"} <= buttons
    at.text_input(key="compare:samples").set_value("0, 99999").run()
    assert not at.exception and "does not exist" in at.error[0].value


def test_a_linear_ae_run_gets_its_angle_to_the_principal_components(store):
    _save(store, "linear-ae", n_components=4, max_steps=40, log_every=10)
    _save(store, "pca", n_components=4)
    at = open_page("pages/compare.py")
    at.selectbox(key="compare:left").set_value(store.list_runs(model="linear-ae")[0].id).run()
    assert any("largest principal angle" in c.value for c in at.caption)
    at.button(key="compare:trace").click().run()
    assert not at.exception and not at.error
    (chart,) = elements(at, "plotly_chart")
    assert "angle" in chart.proto.spec


def test_the_side_by_side_button_trains_both_and_shows_matched_pairs(store):
    at = open_page("pages/compare.py")
    at.number_input(key="compare:n").set_value(10).run()
    at.select_slider(key="compare:steps").set_value(50).run()
    at.button(key="compare:train").click().run()
    try:
        assert not at.exception and not at.error
        page = at.session_state["_compare_page"]
        assert set(page.jobs) == {"nmf", "sae"}
        assert {job.model_name for job in page.jobs.values()} == {"nmf", "sae-topk"}
        for ticket in page.tickets.values():
            assert ticket.done.wait(120) and ticket.error is None
        at.run()
        saved = {r.model: r for r in store.list_runs()}
        assert set(saved) == {"nmf", "sae-topk"} and all(r.n_components == 10 for r in saved.values())
        assert at.selectbox(key="compare:left").value == saved["nmf"].id
        assert at.selectbox(key="compare:right").value == saved["sae-topk"].id
        assert {m.label: m.value for m in at.metric}["Matched pairs"] == "10"
        pairs = at.dataframe[-1].value
        assert len(pairs) == 10 and np.all(np.diff(pairs["|cos|"].to_numpy()) <= 1e-12)
    finally:
        _stop(at)


def test_nmf_on_signed_data_says_why_instead_of_training(store):
    at = open_page("pages/data.py")
    at.selectbox(key="data:name").set_value("gaussian").run()
    at.switch_page("pages/compare.py").run()
    at.button(key="compare:train").click().run()
    assert not at.exception
    assert "needs non-negative data" in at.error[0].value
    assert not at.session_state["_compare_page"].jobs
