"""AppTest: the Inspect page on an empty store and on saved runs (feature, sample, recognition)."""

from __future__ import annotations

import pytest

from app_support import elements, labels, open_page
from core import datasets, models
from core.store import RunStore


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    return RunStore(tmp_path / "runs")


def _save(store, dataset, name, **params):
    ds = datasets.load(dataset)
    model = models.create(name, random_state=0, device="cpu", **params).fit(ds.X)
    return store.save_run(model, dataset=dataset, X=ds.X, image_shape=ds.image_shape)


def test_empty_store_renders_with_a_clear_message(store):
    at = open_page("views/inspect.py")
    assert not at.exception
    assert "No saved runs yet" in " ".join(i.value for i in at.info)


def test_a_feature_a_sample_and_recognition_of_a_saved_run(store):
    record = _save(store, "digits", "sae-topk", n_components=16, k=4, max_steps=60)
    at = open_page("views/inspect.py")
    assert not at.exception and not at.error
    assert at.selectbox(key="inspect:run").value == record.id
    assert [t.label for t in at.tabs] == ["Feature", "Sample", "Recognition", "Training"]
    assert labels(at.number_input) == ["Feature", "Sample"]
    assert {"Top atoms", "Test fraction"} <= set(labels(at.slider))
    at.number_input(key="inspect:feature").set_value(5).run()
    at.number_input(key="inspect:sample").set_value(7).run()
    at.slider(key="inspect:top").set_value(3).run()
    assert not at.exception and not at.error
    charts = {c.proto.id.split("-", 2)[-1] for c in elements(at, "plotly_chart")}
    assert {"inspect:activations", "inspect:density", "inspect:weights-chart"} <= charts
    assert len(elements(at, "image")) >= 4  # atom, top samples, the sample's decomposition, its atoms
    at.button(key="inspect:run-recognition").click().run()
    assert not at.exception and not at.error
    rows = {r["model"]: r["accuracy"] for r in at.session_state["_inspect_recognition"][(record.id, 0.25)]}
    assert set(rows) == {"pixels", "PCA", "NMF", "SAE"} and all(0.5 < a <= 1 for a in rows.values())
    buttons = {b.proto.label for b in elements(at, "download_button")}
    assert {"Grid of atoms (PNG)", "Single atoms (ZIP of PNGs)", "Weights (safetensors)", "Feature table (CSV)",
            "Recognition table (CSV)"} <= buttons


def test_a_run_on_unlabelled_data_says_there_is_nothing_to_recognise(store):
    _save(store, "bars", "nmf", n_components=8, max_steps=20)
    at = open_page("views/inspect.py")
    assert not at.exception and not at.error
    assert any("has no labels" in i.value for i in at.info)


def test_a_run_whose_upload_is_gone_shows_a_message(store):
    import numpy as np

    X = np.random.default_rng(0).uniform(size=(50, 16)).astype(np.float32)
    model = models.create("nmf", n_components=4, max_steps=10, random_state=0).fit(X)
    store.save_run(model, dataset="upload: mine.npy", X=X)
    at = open_page("views/inspect.py")
    assert not at.exception
    assert "upload the same file" in at.error[0].value


def test_the_settings_survive_a_visit_to_another_page_and_fall_back_when_out_of_range(store):
    small = _save(store, "digits", "nmf", n_components=4, max_steps=20)
    big = _save(store, "digits", "sae-topk", n_components=16, k=4, max_steps=20)
    at = open_page("views/inspect.py")
    assert at.selectbox(key="inspect:run").value == big.id
    at.number_input(key="inspect:feature").set_value(12)
    at.number_input(key="inspect:sample").set_value(7)
    at.slider(key="inspect:top").set_value(3)
    at.slider(key="inspect:test").set_value(0.4).run()
    at.switch_page("views/home.py").run()
    at.switch_page("views/inspect.py").run()
    assert not at.exception
    assert at.number_input(key="inspect:feature").value == 12 and at.number_input(key="inspect:sample").value == 7
    assert at.slider(key="inspect:top").value == 3 and at.slider(key="inspect:test").value == 0.4
    at.selectbox(key="inspect:run").set_value(small.id).run()  # 4 features: feature 12 is not one of them
    assert not at.exception and not at.error
    assert at.number_input(key="inspect:feature").value == 0 and at.number_input(key="inspect:sample").value == 7
    at.switch_page("views/home.py").run()
    at.switch_page("views/inspect.py").run()
    assert at.selectbox(key="inspect:run").value == small.id
