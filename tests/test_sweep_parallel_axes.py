"""The parallel coordinates of a sweep: an axis whose value is the same for every trial (one seed, no dead
latents) spans that value and a small margin with one tick at it, not Plotly's default -1..1."""

from __future__ import annotations

import json

from ui.sweep_views import parallel_figure


def _rows() -> list[dict]:
    return [{"model": "sae-topk", "k": k, "seed": 0, "l0": float(k), "fvu": 0.5 / k, "mse": 0.1 / k,
             "dead_fraction": 0.0, "seconds": 2.5, "run_id": f"r{k}"} for k in (2, 4, 8)]


def _dimensions() -> dict[str, dict]:
    fig = json.loads(parallel_figure(_rows(), ["k"], "fvu").to_json())
    return {d["label"]: d for d in fig["data"][0]["dimensions"]}


def test_a_constant_axis_spans_its_value_with_a_small_margin_and_one_tick():
    dims = _dimensions()
    assert dims["seed"]["range"] == [-0.05, 0.05] and dims["seed"]["ticktext"] == ["", "0", ""]
    assert dims["dead_fraction"]["range"] == [-0.05, 0.05]
    low, high = dims["seconds"]["range"]
    assert low < 2.5 < high and high - low < 0.5
    # labelled at the value only; unlabelled ticks at the ends, between which Plotly draws the axis line
    assert dims["seconds"]["tickvals"] == [low, 2.5, high] and dims["seconds"]["ticktext"] == ["", "2.5", ""]


def test_an_axis_that_varies_keeps_plotlys_own_range():
    dims = _dimensions()
    assert "range" not in dims["k"] and "range" not in dims["fvu"]
    assert dims["k"]["values"] == [2, 4, 8]
