"""Compare shows a comparison only of two different runs, and its metrics CSV keeps both runs' columns.

* One run saved on a data set, or the same run picked on both sides: the run paired with itself showed
  "Mean |cos| of pairs 1.00" and every pair green, a perfect match that says nothing.
* Two runs of the same name and model (two sweep points, two side-by-side trainings): the metrics CSV was keyed
  by the runs' names, so the right run's column overwrote the left one's.
"""

from __future__ import annotations

import csv
import io

import pytest

from app_support import capture_downloads, elements, open_page
from core import datasets, models
from core.store import RunStore


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare-runs") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAE_EXPLORER_RUNS", str(root))
        store = RunStore(root)
        digits = datasets.load("digits")
        for steps in (10, 20):  # one name, one model, two runs
            model = models.create("nmf", n_components=6, max_steps=steps, random_state=0).fit(digits.X)
            store.save_run(model, dataset="digits", name="nmf", X=digits.X, image_shape=digits.image_shape)
        swimmer = datasets.load("swimmer")
        model = models.create("nmf", n_components=6, max_steps=20, random_state=0).fit(swimmer.X)
        store.save_run(model, dataset="swimmer", name="nmf", X=swimmer.X, image_shape=swimmer.image_shape)
        yield store


def _digits_key(at) -> str:
    return next(option for option in at.selectbox(key="compare:data").options if option.startswith("digits"))


def test_a_lone_run_is_not_compared_with_itself(store):
    at = open_page("views/compare.py")
    at.selectbox(key="compare:data").set_value("swimmer|").run()
    assert not at.exception and not at.error
    assert "Only one run is saved on this data set" in " ".join(i.value for i in at.info)
    assert not at.metric and not at.table  # no "Matched pairs", no metrics table
    assert "swimmer · 1 run" in at.selectbox(key="compare:data").options


def test_the_same_run_on_both_sides_is_not_compared(store):
    at = open_page("views/compare.py")
    at.selectbox(key="compare:data").set_value("digits|").run()
    left = at.selectbox(key="compare:left").value
    assert at.selectbox(key="compare:right").value != left and at.metric
    at.selectbox(key="compare:right").set_value(left).run()
    assert not at.exception and not at.error
    assert "the same run" in " ".join(i.value for i in at.info)
    assert not at.metric and not at.table


def test_the_metrics_csv_keeps_both_runs_of_one_name(store):
    with pytest.MonkeyPatch.context() as patch:
        made = capture_downloads(patch)
        at = open_page("views/compare.py")
        at.selectbox(key="compare:data").set_value("digits|").run()
    assert not at.exception and not at.error
    (name,) = [n for n in made if n and n.endswith("-metrics.csv")]
    rows = list(csv.reader(io.StringIO(made[name].decode())))
    assert rows[0] == ["metric", "left: nmf (nmf)", "right: nmf (nmf)"]
    shown = at.table[0].value
    mse = next(row for row in rows if row[0] == "MSE")
    assert float(mse[1]) != float(mse[2])  # two lengths, two errors: both columns are there
    assert [f"{float(v):.4g}" for v in mse[1:]] == list(shown.loc["MSE"])


def test_the_pairs_caption_says_one_colour_map_each_atom_scaled_on_its_own(store):
    at = open_page("views/compare.py")
    at.selectbox(key="compare:data").set_value("digits|").run()
    caption = elements(at, "image")[0].proto.imgs[0].caption
    # one map, not one scale: each atom is normalised on its own (core.analysis.pairing.pair_tiles)
    assert "one colour map" in caption and "one colour scale" not in caption and "each atom scaled on its own" in caption
