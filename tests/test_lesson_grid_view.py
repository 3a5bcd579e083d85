"""The autoencoder grid's main picture is its outcome (issue 19): once its four runs are saved, one bar per run of
its error divided by PCA's, against the line at 1; until then Compare names the runs still to train."""

from __future__ import annotations

import json

import pytest

from core import datasets, lessons, models
from tests.app_support import elements, open_page

LESSON = "autoencoder-grid"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A run store holding the lesson's four runs, briefly trained (the chart's numbers, not the result)."""
    from core.store import RunStore

    lesson = lessons.get(LESSON)
    data = datasets.load(lesson.data, **lesson.data_options)
    folder = tmp_path_factory.mktemp("runs")
    store = RunStore(folder)
    fitted, records = [], []
    for run in lesson.runs:
        model = models.create(run.model, random_state=0, device="cpu", **{**run.params, "max_steps": 20}).fit(data.X)
        fitted.append(model)
        records.append(store.save_run(model, dataset=lesson.data, data_options=dict(lesson.data_options), X=data.X))
    return folder, store, records, lesson.measure(data, fitted)


def _compare(monkeypatch, folder):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(folder))
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{LESSON}").click().run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    return at


def test_with_all_four_runs_saved_the_bars_show_each_runs_error_against_pcas(monkeypatch, saved):
    folder, _, _, outcome = saved
    at = _compare(monkeypatch, folder)
    (chart,) = elements(at, "plotly_chart")
    figure = json.loads(chart.proto.spec)
    (bars,) = figure["data"]
    assert bars["x"] == [run.label for run in lessons.get(LESSON).runs]
    assert bars["y"] == pytest.approx([100 * (ratio - 1) for ratio in outcome.values()], abs=1e-3)  # % above PCA's
    *bands, line = figure["layout"]["shapes"]
    assert line["y0"] == line["y1"] == 0.0 and len(bands) == 4  # PCA's error, and each run's expected range
    untied = lessons.get(LESSON).expected["untied_sigmoid_mse_ratio_to_pca"]
    assert (bands[1]["y0"], bands[1]["y1"]) == pytest.approx((100 * (untied[0] - 1), 100 * (untied[1] - 1)))
    assert "Measured on the 4 saved runs of the lesson" in " ".join(str(box.value) for box in [*at.success, *at.warning])


def test_until_all_are_saved_compare_names_the_runs_still_to_train(monkeypatch, saved):
    folder, store, records, _ = saved
    store.delete(records[-1].id)
    at = _compare(monkeypatch, folder)
    assert not elements(at, "plotly_chart")
    assert "still to train (the buttons above): ReLU with bias" in " ".join(str(box.value) for box in at.info)
