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
    at = open_page("views/compare.py")
    assert not at.exception
    assert "No saved runs yet" in " ".join(i.value for i in at.info)
    assert labels(at.button) == ["Train NMF and SAE side by side", "Stop"]
    assert {"Atoms (both runs)", "k (active codes)"} <= set(labels(at.number_input))
    assert labels(at.selectbox) == ["SAE model"] and labels(at.select_slider) == ["Steps (both runs)"]


def test_saved_runs_are_compared_by_default_latest_nmf_and_latest_sae(store):
    nmf = _save(store, "nmf", n_components=12, max_steps=30)
    sae = _save(store, "sae-topk", n_components=12, k=4, max_steps=60)
    _save(store, "linear-ae", n_components=12, max_steps=30)  # newest, but neither NMF nor an SAE
    at = open_page("views/compare.py")
    assert not at.exception and not at.error
    assert at.selectbox(key="compare:left").value == nmf.id
    assert at.selectbox(key="compare:right").value == sae.id
    assert {m.label: m.value for m in at.metric}["Matched pairs"] == "12"
    metrics_table = at.table[0].value
    assert list(metrics_table.index)[:3] == ["MSE", "FVU", "L0 (active codes per sample)"]
    assert len(elements(at, "image")) == 2  # the paired atoms and the reconstructions
    buttons = {b.proto.label for b in elements(at, "download_button")}
    assert {"Comparison (PNG)", "Metrics table (CSV)", "Left weights (safetensors)",
            "Grid of right atoms (PNG)", "Single left atoms (ZIP of PNGs)"} <= buttons
    at.text_input(key="compare:samples").set_value("0, 99999").run()
    assert not at.exception and "does not exist" in at.error[0].value


def test_a_linear_ae_run_gets_its_angle_to_the_principal_components(store):
    _save(store, "linear-ae", n_components=4, max_steps=40, log_every=10)
    pca = _save(store, "pca", n_components=4)
    at = open_page("views/compare.py")
    at.selectbox(key="compare:left").set_value(store.list_runs(model="linear-ae")[0].id)
    at.selectbox(key="compare:right").set_value(pca.id).run()  # two different runs: one is never paired with itself
    assert any("largest principal angle" in c.value for c in at.caption)
    at.button(key="compare:trace").click().run()
    assert not at.exception and not at.error
    (chart,) = elements(at, "plotly_chart")
    assert "angle" in chart.proto.spec


def test_the_side_by_side_button_trains_both_and_shows_matched_pairs(store):
    at = open_page("views/compare.py")
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
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("gaussian").run()
    at.switch_page("views/compare.py").run()
    at.button(key="compare:train").click().run()
    assert not at.exception
    assert "needs non-negative data" in at.error[0].value
    assert not at.session_state["_compare_page"].jobs


def _count_calls(monkeypatch, module, *names) -> dict:
    """Wrap ``module.<name>`` so that each call is counted in the returned dict."""
    calls = dict.fromkeys(names, 0)
    for name in names:
        original = getattr(module, name)

        def counting(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)
    return calls


def test_a_rerun_reuses_the_pairing_and_the_principal_components_until_the_runs_change(store, monkeypatch):
    from core import analysis, render

    sae = _save(store, "sae-topk", n_components=4, k=2, max_steps=20)
    first = _save(store, "linear-ae", n_components=4, max_steps=20)
    calls = _count_calls(monkeypatch, analysis, "pair_atoms", "top_principal_components", "reconstruction_image")
    encoded = _count_calls(monkeypatch, render, "png_bytes")
    at = open_page("views/compare.py")
    assert (at.selectbox(key="compare:left").value, at.selectbox(key="compare:right").value) == (first.id, sae.id)
    assert not at.exception and not at.error
    assert calls == {"pair_atoms": 1, "top_principal_components": 1, "reconstruction_image": 1}
    at.number_input(key="compare:n").set_value(12).run()  # a widget that changes none of the results
    at.run()
    assert calls == {"pair_atoms": 1, "top_principal_components": 1, "reconstruction_image": 1}
    at.text_input(key="compare:samples").set_value("1, 2").run()  # only the reconstructions are new
    assert calls == {"pair_atoms": 1, "top_principal_components": 1, "reconstruction_image": 2}
    second = store.rename(_save(store, "linear-ae", n_components=4, max_steps=30).id, "second")  # its own label
    at.run()
    at.selectbox(key="compare:left").set_value(second.id).run()  # another run: paired and projected anew
    assert calls["pair_atoms"] == 2 and calls["top_principal_components"] == 2
    at.selectbox(key="compare:left").set_value(first.id).run()  # back to the first pair: still cached
    assert calls["pair_atoms"] == 2 and calls["top_principal_components"] == 2
    store.rename(sae.id, "renamed")  # a changed record (new updated_at) is paired again
    at.run()
    assert calls["pair_atoms"] == 3 and calls["top_principal_components"] == 2
    assert not at.exception and encoded["png_bytes"] == 0  # PNGs are encoded when a download is clicked


def test_the_live_panel_pairs_each_version_of_the_atoms_once(monkeypatch):
    from types import SimpleNamespace

    from core import analysis
    from ui import compare_live

    calls = _count_calls(monkeypatch, analysis, "pair_atoms", "comparison_image")
    atoms = np.random.default_rng(0).uniform(size=(2, 4, 64))

    def snap(job_id, version, step):  # negative job ids: never those of real jobs
        return SimpleNamespace(job_id=job_id, atoms_version=version, atoms=atoms[-job_id - 1], step=step,
                               image_shape=(8, 8), model_name="sae-topk")

    first = compare_live._paired(snap(-1, 1, 10), snap(-2, 1, 10))
    assert compare_live._paired(snap(-1, 1, 20), snap(-2, 1, 20)) is first  # a later tick, the same atoms
    assert calls == {"pair_atoms": 1, "comparison_image": 1}
    compare_live._paired(snap(-1, 1, 30), snap(-2, 2, 30))  # the SAE published new atoms
    assert calls == {"pair_atoms": 2, "comparison_image": 2}


def test_the_settings_and_the_picked_runs_survive_a_visit_to_another_page(store):
    _save(store, "nmf", n_components=4, max_steps=20)
    sae = _save(store, "sae-topk", n_components=4, k=2, max_steps=20)
    newest = _save(store, "sae-l1", n_components=4, max_steps=20)
    at = open_page("views/compare.py")
    assert at.selectbox(key="compare:right").value == newest.id
    at.number_input(key="compare:n").set_value(10)
    at.number_input(key="compare:k").set_value(3)
    at.text_input(key="compare:samples").set_value("3, 4")
    at.selectbox(key="compare:sae").set_value("sae-batchtopk")
    at.select_slider(key="compare:steps").set_value(50)
    at.selectbox(key="compare:right").set_value(sae.id).run()
    at.switch_page("views/home.py").run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    assert at.number_input(key="compare:n").value == 10 and at.number_input(key="compare:k").value == 3
    assert at.text_input(key="compare:samples").value == "3, 4"
    assert at.selectbox(key="compare:sae").value == "sae-batchtopk"
    assert at.select_slider(key="compare:steps").value == 50
    assert at.selectbox(key="compare:right").value == sae.id
    store.delete(sae.id)  # a remembered run that is gone: the default again, no error
    at.switch_page("views/home.py").run()
    at.switch_page("views/compare.py").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="compare:right").value == newest.id


def test_runs_saved_in_the_same_second_get_distinct_labels():
    from types import SimpleNamespace

    from ui.stored_runs import run_label

    first, second = (SimpleNamespace(id=f"20261123-154312-{tag}", name="sweep k=4", model="sae-topk",
                                     status="finished") for tag in ("a1b2c3d4e5f6", "9f8e7d6c5b4a"))
    assert run_label(first) == "sweep k=4 · sae-topk · 2026-11-23 15:43:12 · #a1b2"
    assert run_label(first) != run_label(second)
    named = SimpleNamespace(id="20261123-154312-a1b2c3d4e5f6", name="nmf (16) side by side", model="nmf",
                            status="stopped")
    assert run_label(named) == "nmf (16) side by side · 2026-11-23 15:43:12 · #a1b2 [stopped]"
