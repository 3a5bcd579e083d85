"""A sweep stopped early keeps the trials trained so far; on the Sweep page a point whose trials stopped (or
diverged) before their last step says so in its hover, and the sweep's label says how many, so a half-trained
point is not read as a finished one."""

from __future__ import annotations

import json
from types import SimpleNamespace

from core.analysis import frontier
from ui import sweep_views


def _record(k: int, seed: int, status: str):
    return SimpleNamespace(id=f"20261205-094748-{k}{seed}", model="sae-topk", dataset="digits", sweep="s",
                           status="finished", n_components=16, params={"k": k, "random_state": seed},
                           metrics={"l0": float(k), "fvu": 0.5, "seconds": 1.0},
                           extra={"sweep_grid": {"k": k}, "seed": seed, "sweep_status": status})


RECORDS = [_record(2, 0, "finished"), _record(2, 1, "finished"), _record(4, 0, "finished"),
           _record(4, 1, "stopped")]


def test_a_point_with_a_stopped_trial_says_so_and_a_finished_one_does_not():
    groups = frontier.aggregate(frontier.trial_rows(RECORDS, ["k"]), ["k"])
    assert [g["unfinished"] for g in groups] == [{}, {"stopped": 1}]
    hovers = json.loads(sweep_views.frontier_figure(groups, ["k"], "l0", "fvu", []).to_json())["data"][0]["hovertext"]
    assert "not trained to the end" not in hovers[0]
    assert "not trained to the end: 1 of 2 seeds stopped" in hovers[1]


def test_the_sweeps_label_counts_the_trials_not_trained_to_the_end():
    assert "4 trials (1 stopped early)" in sweep_views.sweep_label(RECORDS)
    assert "early" not in sweep_views.sweep_label(RECORDS[:3])
