"""A run drawn beside a sweep that lacks one of its swept settings has no line in the parallel coordinates
(the caption names it): it adds no axis of its own ('run', 'model') and takes none away (its missing
training seconds)."""

from __future__ import annotations

import json

from ui.sweep_views import parallel_figure


def _labels(beside) -> list[str]:
    rows = [{"model": "sae-topk", "k": k, "seed": 0, "l0": float(k), "fvu": 0.5 / k, "mse": 0.1 / k,
             "dead_fraction": 0.0, "seconds": 2.5 + k, "run_id": f"r{k}"} for k in (2, 4, 8)]
    fig = json.loads(parallel_figure(rows, ["k"], "fvu", beside).to_json())
    return [d["label"] for d in fig["data"][0]["dimensions"]]


def test_a_run_beside_without_the_swept_setting_changes_no_axis():
    alone = _labels([])
    no_k = {"model": "sae-l1", "name": "my train run", "run_id": "t", "n_components": 32, "seed": 0,
            "l0": 15.0, "fvu": 0.2, "mse": 0.01, "dead_fraction": 0.0, "seconds": None}  # sae-l1 has no k
    assert _labels([no_k]) == alone == ["k", "seed", "l0", "fvu", "mse", "dead_fraction", "seconds"]
    placed = {**no_k, "model": "sae-topk", "k": 6, "seconds": 1.0}
    assert _labels([no_k, placed]) == ["run", *alone]  # one that has k is a line, named on the 'run' axis
