"""The sidebar badge shows every run of the session (Train's, Compare's, Sweep's) and keeps the server's count
current while the session is idle; a click on the Sweep frontier where curves overlap lets the user pick the
run; Inspect's recognition says what it costs and reports its progress; Inspect's grid download has a scale."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1.element_tree import Widget

from app_support import elements, open_page
from core import analysis, datasets, models, render
from core.jobs import call_in_worker
from core.store import RunStore


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    return RunStore(tmp_path / "runs")


def _sidebar(at) -> str:
    return " ".join(str(getattr(e, "value", "")) for e in at.sidebar)


# -- the badge ------------------------------------------------------------------------------------------------
def test_the_badge_shows_a_compare_and_a_sweep_run_of_this_session_from_another_page(store):
    at = open_page("views/sweep.py")
    at.select_slider(key="sweep:steps").set_value(at.select_slider(key="sweep:steps").options[-1]).run()
    at.button(key="sweep:start").click().run()
    sweep = at.session_state["_sweep_page"].job
    at.switch_page("views/compare.py").run()
    at.button(key="compare:train").click().run()
    compare = list(at.session_state["_compare_page"].jobs.values())
    try:
        assert not at.exception and sweep.active and all(job.active for job in compare)
        at.switch_page("views/home.py").run()
        badge = _sidebar(at)
        assert "idle" not in badge  # it said "CPU idle" while Compare trained
        assert "Compare: " in badge and "Sweep: " in badge
        assert 'class="dot on"' in badge or 'class="dot wait"' in badge
        assert "· 1 sweep" in badge  # the server's count names the sweep training beside the runs
    finally:
        for job in [sweep, *compare]:
            job.stop()
        assert sweep.wait(60) and all(job.wait(60) for job in compare)
    at.run()
    assert "idle" in _sidebar(at) and "sweep" not in _sidebar(at)


@pytest.mark.browser
def test_the_server_count_refreshes_in_an_idle_tab_without_a_page_change(tmp_path):
    from browser_support import chromium, need_chromium, open_app, press, server_runs, slider_keys, \
        streamlit_server, wait_until

    need_chromium()
    with streamlit_server(tmp_path / "server.log", SAE_EXPLORER_MAX_JOBS=2, SAE_EXPLORER_JOB_TIMEOUT=6,
                          SAE_EXPLORER_RUNS=tmp_path / "runs") as url, chromium() as browser:
        watcher, trainer = (browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2))
        idle = open_app(watcher, url, "")
        assert server_runs(idle).startswith("Runs on this server: 0 of 2")
        page = open_app(trainer, url, "train")
        slider_keys(page, "Steps", "End")
        press(page, "Train")
        # the idle tab is not touched: its badge refreshes on its own (every BADGE_PERIOD_IDLE seconds)
        wait_until(lambda: server_runs(idle).startswith("Runs on this server: 1 of 2"), 40,
                   "the idle tab's count shows the other session's run", every=0.5)
        assert "idle" in idle.locator(".device-badge").inner_text()  # that run is not this session's
        press(page, "Stop")
        wait_until(lambda: server_runs(idle).startswith("Runs on this server: 0 of 2"), 30,
                   "the idle tab's count shows the run ended", every=0.5)


# -- the sweep's picker ---------------------------------------------------------------------------------------
class _ChartClick(Widget):
    """The frontier chart as the browser reports it after a click on the point of ``run_id``."""

    def __init__(self, chart, run_id: str):
        super().__init__(chart.proto, chart.root)
        self.type, self.disabled, self.run_id = "plotly_chart", False, run_id

    @property
    def id(self) -> str:
        return self.proto.id

    @id.setter
    def id(self, _value) -> None:
        pass

    @property
    def value(self) -> str:
        return self.run_id

    @property
    def _widget_state(self) -> WidgetState:
        state = WidgetState(id=self.id)
        state.string_value = json.dumps({"selection": {
            "points": [{"curve_number": 0, "point_number": 0, "point_index": 0, "customdata": self.run_id}],
            "point_indices": [0], "box": [], "lasso": []}})
        return state


def _click(at, run_id: str) -> None:
    """Click the frontier chart's point of ``run_id`` (AppTest has no plotly interaction of its own)."""
    def walk(node) -> bool:
        for name, child in getattr(node, "children", {}).items():
            if child.type == "plotly_chart":
                node.children[name] = _ChartClick(child, run_id)
                return True
            if walk(child):
                return True
        return False

    assert walk(at.main), "no chart on the page"
    at.run()


def _saved_point(store, ds, name: str, k: int, l0: float, fvu: float):
    model = models.create(name, n_components=8, k=k, max_steps=20, random_state=0, device="cpu").fit(ds.X)
    return store.save_run(model, dataset="digits", X=ds.X, image_shape=ds.image_shape, sweep="overlap",
                          name=f"{name} k={k}", metrics={"l0": l0, "fvu": fvu, "mse": fvu / 10},
                          extra={"sweep_param": "k", "sweep_value": k})


def test_a_click_where_two_curves_overlap_lets_the_user_pick_the_model(store):
    ds = datasets.load("digits")
    topk = _saved_point(store, ds, "sae-topk", 4, 4.0, 0.300)
    batch = _saved_point(store, ds, "sae-batchtopk", 4, 4.02, 0.301)  # drawn on top of sae-topk's point
    apart = _saved_point(store, ds, "sae-topk", 2, 2.0, 0.500)
    at = open_page("views/sweep.py")
    at.toggle(key="sweep:refs").set_value(False).run()
    chart = elements(at, "plotly_chart")[0]  # the frontier (parallel coordinates follow)
    hover = " ".join(text for trace in json.loads(chart.proto.spec)["data"] for text in trace.get("hovertext", []))
    assert "░" not in hover and "█" not in hover and "click to show its atoms" in hover  # no text pictures
    _click(at, batch.id)
    assert not at.exception
    assert at.selectbox(key="sweep:atoms").value == batch.id  # the point clicked is shown ...
    (picker,) = [r for r in at.radio if r.key == "sweep:near"]  # beside the form's "Run on"
    assert picker.key == "sweep:near" and set(picker.options) == {"sae-batchtopk · k=4 · seed 0",
                                                                   "sae-topk · k=4 · seed 0"}
    picker.set_value(topk.id).run()  # ... and the run under it can be picked
    assert at.selectbox(key="sweep:atoms").value == topk.id
    assert "sae-topk · k=4 · seed 0" in elements(at, "image")[0].proto.imgs[0].caption
    at.run()  # the chart's standing selection does not take the pick back
    assert at.selectbox(key="sweep:atoms").value == topk.id
    _click(at, apart.id)  # a point alone: shown at once, no picker
    assert at.selectbox(key="sweep:atoms").value == apart.id and [r.key for r in at.radio] == ["sweep:backend"]


# -- Inspect ----------------------------------------------------------------------------------------------------
def test_recognition_reports_its_progress_from_the_worker_process():
    ds = datasets.load("digits")
    estimators = {"PCA": models.create("pca", n_components=8),
                  "SAE": models.create("sae-topk", n_components=8, k=2, max_steps=300, random_state=0)}
    reports = []
    rows = call_in_worker(analysis.recognition, estimators, ds.X, ds.labels,
                          on_progress=lambda fraction, text: reports.append((fraction, text)))
    assert [r["model"] for r in rows] == ["pixels", "PCA", "SAE"]
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and 0.5 < fractions[-1] <= 1.0
    assert reports[0][1] == "Fitting PCA on 1,348 training samples (model 1 of 2)"
    assert any("Fitting SAE" in text and "of 300" in text for _, text in reports)


def test_inspect_says_what_recognition_costs_and_its_grid_download_has_a_scale(store, page_downloads):
    ds = datasets.load("digits")
    model = models.create("sae-topk", n_components=16, k=4, max_steps=60, random_state=0, device="cpu").fit(ds.X)
    record = store.save_run(model, dataset="digits", X=ds.X, image_shape=ds.image_shape, name="scaled")
    at = open_page("views/inspect.py")
    captions = " ".join(c.value for c in at.caption)
    assert "a few seconds" not in captions
    assert "Fits PCA, NMF (200 steps), SAE (sae-topk, this run's settings, 60 steps) on 1,348 training samples" in captions
    assert "about 15-45 s" in captions
    at.button(key="inspect:run-recognition").click().run()
    assert not at.exception and not at.error and not at.get("progress")  # the bar is gone once done
    assert "the last measurement on this run took" in " ".join(c.value for c in at.caption)
    # the grid download: the same Scale control as Train's, the PNG drawn at it, its value kept across pages
    assert at.slider(key="inspect:scale").label == "Scale" and at.slider(key="inspect:scale").value == 4
    at.slider(key="inspect:scale").set_value(2).run()
    png = page_downloads[f"{record.name}-atoms.png"]()
    assert Image.open(io.BytesIO(png)).size == render.grid_size(16, ds.image_shape, scale=2)
    at.switch_page("views/train.py").run()
    assert at.slider(key="grid:scale").label == "Scale"
    at.switch_page("views/inspect.py").run()
    assert at.slider(key="inspect:scale").value == 2
