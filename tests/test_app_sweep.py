"""AppTest: the Sweep page on an empty store, a short sweep that lands in the store, and bad input."""

from __future__ import annotations

import unittest.mock

import pytest

from app_support import elements, labels, open_page
from core.store import RunStore


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    return RunStore(tmp_path / "runs")


def test_empty_store_renders_with_its_widgets(store):
    at = open_page("views/sweep.py")
    assert not at.exception
    assert "No sweeps saved yet" in " ".join(i.value for i in at.info)
    assert labels(at.selectbox) == ["Parameter", "Second parameter", "Third parameter"]
    assert labels(at.multiselect) == ["Models"] and labels(at.radio) == ["Run on"]
    assert labels(at.text_input) == ["Values"] and labels(at.number_input) == ["Seeds", "Atoms (n_components)"]
    assert labels(at.select_slider) == ["Steps per run"] and labels(at.button) == ["Start sweep", "Stop"]
    assert at.text_input(key="sweep:values:k").value == "2, 4, 8, 16, 32"
    at.selectbox(key="sweep:param").set_value("l1_coef").run()
    assert at.multiselect(key="sweep:models:l1_coef").options[:1] == ["sae-l1"]
    at.selectbox(key="sweep:param").set_value("n_components").run()
    assert at.number_input(key="sweep:n").disabled and not at.exception


def test_a_short_sweep_lands_its_runs_in_the_store_and_on_the_frontier(store):
    at = open_page("views/sweep.py")
    at.text_input(key="sweep:values:k").set_value("2, 4, 8").run()
    at.number_input(key="sweep:n").set_value(16).run()
    at.select_slider(key="sweep:steps").set_value(50).run()
    at.button(key="sweep:start").click().run()
    assert not at.exception and not at.error
    job = at.session_state["_sweep_page"].job
    assert job.wait(120)
    at.run()
    assert not at.exception and not at.error
    runs = store.list_runs()
    assert sorted(r.extra["sweep_value"] for r in runs) == [2, 4, 8]
    assert all(r.model == "sae-topk" and r.n_components == 16 and r.sweep == runs[0].sweep for r in runs)
    table = at.dataframe[0].value
    assert sorted(table["k"]) == [2, 4, 8] and set(table["run_id"]) == {r.id for r in runs}
    chart = elements(at, "plotly_chart")[0]  # the frontier; parallel coordinates follow
    import json

    traces = json.loads(chart.proto.spec)["data"]
    assert [t["name"] for t in traces][:1] == ["sae-topk"] and len(traces[0]["x"]) == 3
    assert {"PCA (same rank)", "NMF (same rank)"} <= {t["name"] for t in traces}
    assert all(t["atoms"].startswith("data:image/png;base64,") for t in table.to_dict("records"))  # thumbnails
    assert set(traces[0]["customdata"]) == {r.id for r in runs}
    buttons = {b.proto.label for b in elements(at, "download_button")}
    assert {"Every trial (CSV)", "Every trial (JSON)", "Gallery (PNG)", "Grid of atoms (PNG)", "Single atoms (ZIP of PNGs)",
            "Weights (safetensors)"} <= buttons
    assert len(elements(at, "image")) == 2  # the chosen run's atoms and the gallery
    # each run's weights were read from disk once: for its thumbnail and, when shown, its atom grid
    loads = []
    original = RunStore.load_model
    with unittest.mock.patch.object(RunStore, "load_model", lambda self, *a, **k: loads.append(a[0]) or
                                    original(self, *a, **k)):
        at.selectbox(key="sweep:atoms").set_value(runs[1].id).run()
        at.run()
    assert not at.exception and loads == []


@pytest.mark.parametrize("values, message", [("2, x", "not a number"), ("64", "more than the 32 atoms"),
                                             ("", "Type the values")])
def test_bad_values_show_a_message_not_a_traceback(store, values, message):
    at = open_page("views/sweep.py")
    at.text_input(key="sweep:values:k").set_value(values).run()
    at.button(key="sweep:start").click().run()
    assert not at.exception
    assert message in at.error[0].value
    assert at.session_state["_sweep_page"].job is None


def test_a_sweep_is_kept_alive_by_the_sidebar_while_another_page_is_shown(store):
    at = open_page("views/sweep.py")
    at.select_slider(key="sweep:steps").set_value(at.select_slider(key="sweep:steps").options[-1]).run()
    at.button(key="sweep:start").click().run()
    job = at.session_state["_sweep_page"].job
    try:
        at.switch_page("views/home.py").run()
        assert not at.exception and job.active
        job.last_seen -= 3600  # as if the Sweep page had not read it for an hour
        at.run()  # any page's sidebar reads the session's runs
        assert job.active and job._idle() is False
    finally:
        job.stop()
        assert job.wait(60)


def _back_and_forth(at, page: str) -> None:
    at.switch_page("views/home.py").run()
    at.switch_page(page).run()
    assert not at.exception


def test_the_settings_survive_a_visit_to_another_page(store):
    at = open_page("views/sweep.py")
    at.selectbox(key="sweep:param").set_value("l1_coef").run()
    models_ = at.multiselect(key="sweep:models:l1_coef").options[:2]
    at.multiselect(key="sweep:models:l1_coef").set_value(models_)
    at.text_input(key="sweep:values:l1_coef").set_value("0.01, 0.1")
    at.number_input(key="sweep:n").set_value(16)
    at.select_slider(key="sweep:steps").set_value(50)
    at.toggle(key="sweep:refs").set_value(False).run()
    _back_and_forth(at, "views/sweep.py")
    assert at.selectbox(key="sweep:param").value == "l1_coef"
    assert at.multiselect(key="sweep:models:l1_coef").value == models_
    assert at.text_input(key="sweep:values:l1_coef").value == "0.01, 0.1"
    assert at.number_input(key="sweep:n").value == 16 and at.select_slider(key="sweep:steps").value == 50
    assert at.toggle(key="sweep:refs").value is False


def test_the_shown_sweeps_and_atoms_survive_a_visit_to_another_page(store):
    from core import datasets, models

    ds = datasets.load("digits")
    runs = {}
    for sweep, values in (("a", (2, 4)), ("b", (3, 5))):  # other values: other labels
        for k in values:
            model = models.create("sae-topk", n_components=8, k=k, max_steps=20, random_state=0, device="cpu")
            runs[sweep, k] = store.save_run(model.fit(ds.X), dataset="digits", X=ds.X, image_shape=ds.image_shape,
                                            sweep=sweep, name=f"{sweep} k={k}",
                                            extra={"sweep_param": "k", "sweep_value": k})
    at = open_page("views/sweep.py")
    at.toggle(key="sweep:refs").set_value(False).run()
    assert at.multiselect(key="sweep:shown").value == ["b"]  # the newest sweep
    at.multiselect(key="sweep:shown").set_value(["a", "b"]).run()
    at.selectbox(key="sweep:atoms").set_value(runs["a", 2].id).run()
    _back_and_forth(at, "views/sweep.py")
    assert at.multiselect(key="sweep:shown").value == ["a", "b"]
    assert at.selectbox(key="sweep:atoms").value == runs["a", 2].id
    store.delete(runs["a", 2].id)  # a remembered run that is gone: the first one shown again, no error
    _back_and_forth(at, "views/sweep.py")
    assert not at.error and at.selectbox(key="sweep:atoms").value == runs["a", 4].id
