"""The Sweep page's words: a metric is named as on the axis pickers (L0, FVU), not by its key; one trial is
'1 trial'; the trials table says what a stacked trial's seconds are."""

from __future__ import annotations

import json
from types import SimpleNamespace

from ui import sweep_views


def _record(k: int, seed: int, run_id: str):
    return SimpleNamespace(id=run_id, model="sae-topk", dataset="digits", sweep="s", status="done",
                           n_components=16, params={"k": k, "n_components": 16, "random_state": seed},
                           metrics={"l0": float(k), "fvu": 0.5, "seconds": 1.0},
                           extra={"sweep_grid": {"k": k}, "seed": seed})


def test_the_hover_names_the_metrics_as_the_axis_pickers_do():
    group = {"label": "sae-topk · k=4", "seeds": 2, "l0": 4.0, "l0_std": 0.0, "fvu": 0.538, "fvu_std": 0.018,
             "dead_fraction": 0.0, "dead_fraction_std": 0.0, "k": 4, "model": "sae-topk", "run_ids": ["a", "b"]}
    fig = sweep_views.frontier_figure([group], ["k"], "l0", "fvu", [])
    (hover,) = json.loads(fig.to_json())["data"][0]["hovertext"]
    assert "L0 4 ± 0 · FVU 0.538 ± 0.018" in hover
    fig = sweep_views.frontier_figure([group], ["k"], "dead_fraction", "fvu",
                                      [{"model": "pca", "n_components": 16, "l0": 16.0, "fvu": 0.1, "mse": 0.01}])
    assert "dead fraction 0 ± 0" in json.loads(fig.to_json())["data"][0]["hovertext"][0]


def test_one_trial_is_one_trial_in_the_sweeps_label():
    assert " · 1 trial · " in sweep_views.sweep_label([_record(4, 0, "20261205-094748-aaaa")])
    assert " · 2 trials · " in sweep_views.sweep_label([_record(4, 0, "20261205-094748-aaaa"),
                                                        _record(8, 0, "20261205-094748-bbbb")])


def test_the_parallel_coordinates_colour_bar_names_its_metric_as_the_pickers_do():
    rows = [{"model": "sae-topk", "k": k, "seed": 0, "l0": float(k), "fvu": 0.5 / k, "mse": 0.1 / k,
             "dead_fraction": 0.0, "seconds": 1.0, "run_id": f"r{k}"} for k in (2, 4)]
    fig = json.loads(sweep_views.parallel_figure(rows, ["k"], "dead_fraction").to_json())
    assert fig["data"][0]["line"]["colorbar"]["title"]["text"] == "dead fraction"
