"""AppTest: a grid sweep (k x n_components x 2 seeds on digits) from the Sweep page's form; its views (the
frontier with mean and spread over seeds, parallel coordinates, the gallery), its exports (every trial as CSV
and JSON) and opening a trial in Inspect or Compare."""

from __future__ import annotations

import csv
import io
import json

import pytest

from app_support import capture_downloads, elements, open_page
from core.store import RunStore


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The page after a 2 x 2 grid x 2 seeds sweep (8 trials), with every download's bytes by file name."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAE_EXPLORER_RUNS", str(tmp_path_factory.mktemp("grid") / "runs"))
        made = capture_downloads(patch)
        at = open_page("views/sweep.py")
        at.text_input(key="sweep:values:k").set_value("2, 4")
        at.selectbox(key="sweep:param2").set_value("n_components").run()
        at.text_input(key="sweep:values2:n_components").set_value("8, 16")
        at.number_input(key="sweep:seeds").set_value(2)
        at.select_slider(key="sweep:steps").set_value(50).run()
        before = " ".join(str(m.value) for m in at.markdown)
        at.button(key="sweep:start").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        job = at.session_state["_sweep_page"].job
        assert job.wait(180)
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        yield at, RunStore(at.session_state["_sweep_page"].job.store.root), made, before


def test_the_form_shows_the_trial_count_and_the_estimate_before_start(swept):
    _, _, _, before = swept
    assert "**8 trials** (1 model × 2 k × 2 n_components × 2 seeds)" in before
    assert "core.budget: about" in before


def test_every_trial_is_saved_with_its_seed_and_settings(swept):
    _, store, _, _ = swept
    runs = store.list_runs()
    assert sorted((r.params["k"], r.n_components, r.extra["seed"]) for r in runs) == \
        [(k, n, s) for k in (2, 4) for n in (8, 16) for s in (0, 1)]


def test_the_frontier_shows_one_point_per_setting_with_its_spread_and_the_pareto_front(swept):
    at, store, _, _ = swept
    frontier_chart, parallel_chart = elements(at, "plotly_chart")[:2]
    traces = json.loads(frontier_chart.proto.spec)["data"]
    curves = {t["name"]: t for t in traces if t["name"].startswith("sae-topk")}
    assert sorted(curves) == ["sae-topk · n_components=16", "sae-topk · n_components=8"]  # a curve along k each
    spreads = [s for curve in curves.values() for s in curve["error_y"]["array"]]
    assert all(len(curve["x"]) == 2 for curve in curves.values()) and len(spreads) == 4  # 4 settings' means
    assert any(spread > 0 for spread in spreads)  # of 2 seeds that differ
    assert all("2 seeds, mean ± sd" in text for curve in curves.values() for text in curve["hovertext"])
    assert {"Pareto front", "PCA (same rank)", "NMF (same rank)"} <= {t["name"] for t in traces}
    dimensions = json.loads(parallel_chart.proto.spec)["data"][0]["dimensions"]
    assert [d["label"] for d in dimensions][:3] == ["k", "n_components", "seed"]
    assert len(dimensions[0]["values"]) == 8  # one line per trial
    gallery = [image for image in elements(at, "image") if "one panel per setting (4)" in image.proto.imgs[0].caption]
    assert len(gallery) == 1
    label = at.multiselect(key="sweep:shown").format_func(at.multiselect(key="sweep:shown").value[0])
    assert "k ∈ {2, 4} × n_components ∈ {8, 16} · 2 seeds" in label and " s · " in label


def test_the_exports_hold_every_trial(swept):
    at, store, made, _ = swept
    ids = {r.id for r in store.list_runs()}
    rows = list(csv.DictReader(io.StringIO(made["sweep-trials.csv"].decode())))
    assert {r["run_id"] for r in rows} == ids
    assert {"model", "k", "n_components", "seed", "mse", "fvu", "l0", "dead_fraction", "seconds"} <= set(rows[0])
    trials = json.loads(made["sweep-trials.json"])
    assert {t["run_id"] for t in trials} == ids
    assert all(t["params"]["random_state"] == t["seed"] and t["params"]["max_steps"] == 50 for t in trials)


def test_a_trial_opens_in_compare_and_in_inspect(swept):
    at, _, _, _ = swept
    run_id = at.selectbox(key="sweep:atoms").value
    other = at.selectbox(key="sweep:other").value
    assert other != run_id
    at.button(key="sweep:open-compare").click().run()
    assert not at.exception and [h.value for h in at.header] == ["Compare"]
    assert (at.selectbox(key="compare:left").value, at.selectbox(key="compare:right").value) == (run_id, other)
    at.switch_page("views/sweep.py").run()
    at.button(key="sweep:open-inspect").click().run()
    assert not at.exception and [h.value for h in at.header] == ["Inspect"]
    assert at.selectbox(key="inspect:run").value == run_id


def test_the_ray_backend_takes_its_address_from_ray_address_and_says_when_ray_is_missing(tmp_path, monkeypatch):
    import importlib.util

    from ui import sweep_live

    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("RAY_ADDRESS", "ray://head-node:10001")
    at = open_page("views/sweep.py")
    at.radio(key="sweep:backend").set_value("ray").run()
    assert at.text_input(key="sweep:ray-address").value == "ray://head-node:10001"
    assert not at.warning
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(sweep_live.importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real_find_spec(name, *a))
    at.run()
    assert "Ray, which is not installed here" in at.warning[0].value
    at.button(key="sweep:start").click().run()
    assert "not installed" in at.error[0].value and at.session_state["_sweep_page"].job is None


def test_the_frontier_shows_the_trials_saved_so_far_while_the_sweep_runs(tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    at = open_page("views/sweep.py")
    at.text_input(key="sweep:values:k").set_value("2, 4")
    at.number_input(key="sweep:seeds").set_value(3)
    at.number_input(key="sweep:n").set_value(8)
    at.select_slider(key="sweep:steps").set_value(5000).run()  # a group per seed: the first lands long before the last
    at.button(key="sweep:start").click().run()
    job = at.session_state["_sweep_page"].job
    try:
        deadline = time.monotonic() + 120
        while not job.snapshot().records and time.monotonic() < deadline:  # read, as the page does
            time.sleep(0.2)
        assert job.snapshot(touch=False).active, "the sweep ended before the test could look at it running"
        at.run()
        live = [c for c in elements(at, "plotly_chart") if c.proto.id and "sweep:live-plot" in c.proto.id]
        assert len(live) == 1 and not at.exception
        (curve,) = [t for t in json.loads(live[0].proto.spec)["data"] if t["name"] == "sae-topk"]
        assert 1 <= len(curve["x"]) <= 2  # the first seed's trials saved so far, while the other seeds train
    finally:
        job.stop()
        assert job.wait(60)
