"""The math behind the Sweep page's views (core.analysis.frontier) on hand-made rows whose answer is known,
and the gallery of atom grids (core.render.gallery)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from core.analysis import frontier
from core.render import atom_grid
from core.render.gallery import gallery


def _row(model, k, seed, l0, fvu, run_id):
    return {"model": model, "k": k, "seed": seed, "l0": l0, "fvu": fvu, "run_id": run_id}


def test_pareto_front_keeps_the_points_no_other_beats_on_both_metrics():
    points = [{"l0": 2, "fvu": 0.5}, {"l0": 4, "fvu": 0.3}, {"l0": 4, "fvu": 0.4},  # (4, 0.4) is beaten
              {"l0": 8, "fvu": 0.1}, {"l0": 9, "fvu": 0.2}, {"l0": 8, "fvu": 0.1},  # (9, 0.2) beaten; ties both stay
              {"l0": None, "fvu": 0.0}]  # no L0: not on the front
    assert frontier.pareto_front(points, "l0", "fvu") == [True, True, False, True, False, True, False]
    # a metric where more is better flips its direction: more Hoyer sparseness at less FVU
    hoyer = [{"hoyer_codes": 0.9, "fvu": 0.3}, {"hoyer_codes": 0.5, "fvu": 0.3}, {"hoyer_codes": 0.1, "fvu": 0.1}]
    assert frontier.pareto_front(hoyer, "hoyer_codes", "fvu") == [True, False, True]


def test_aggregate_gives_mean_and_sample_spread_over_seeds_per_setting():
    rows = [_row("sae-topk", 2, 0, 2.0, 0.50, "a"), _row("sae-topk", 2, 1, 2.0, 0.70, "b"),
            _row("sae-topk", 4, 0, 4.0, 0.30, "c"), _row("sae-topk", 4, 1, 4.0, 0.30, "d"),
            _row("sae-topk", 4, 2, 4.0, float("nan"), "e"),  # a diverged seed: left out of the mean
            _row("sae-batchtopk", 2, 0, 3.0, 0.40, "f")]
    groups = frontier.aggregate(rows, ["k"], metrics=("l0", "fvu"))
    assert [(g["model"], g["k"], g["seeds"]) for g in groups] == [("sae-topk", 2, 2), ("sae-topk", 4, 3),
                                                                   ("sae-batchtopk", 2, 1)]
    k2, k4, batch = groups
    assert k2["fvu"] == pytest.approx(0.6) and k2["fvu_std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert k4["fvu"] == pytest.approx(0.3) and k4["fvu_std"] == 0.0 and k4["run_ids"] == ["c", "d", "e"]
    assert batch["fvu_std"] == 0.0 and batch["label"] == "sae-batchtopk · k=2"


def _record(model, params, seed, run_id, extra=None):
    return SimpleNamespace(model=model, params={**params, "random_state": seed}, extra=extra or {}, id=run_id,
                           status="finished", metrics={"l0": 1.0, "fvu": 0.5}, n_components=params.get("n_components"),
                           sweep="s", dataset="digits", data_options={})


def test_the_swept_settings_and_seeds_are_read_from_the_saved_runs():
    records = [_record("sae-topk", {"k": k, "n_components": n, "max_steps": 50}, seed, f"{k}-{n}-{seed}")
               for k in (2, 4) for n in (16, 32) for seed in (0, 1)]
    assert frontier.swept_params(records) == ["k", "n_components"]  # the seed is not a setting
    rows = frontier.trial_rows(records)
    assert {(r["k"], r["n_components"], r["seed"]) for r in rows} == {(k, n, s) for k in (2, 4) for n in (16, 32)
                                                                      for s in (0, 1)}
    assert len(frontier.aggregate(rows, ["k", "n_components"])) == 4
    exported = frontier.trial_record(records[0], ["k", "n_components"])
    assert exported["params"]["max_steps"] == 50 and exported["seed"] == 0 and exported["run_id"] == "2-16-0"
    # a seed recorded by the sweep wins over the model's random_state
    assert frontier.seed_of(_record("sae-topk", {"k": 2}, 0, "x", extra={"seed": 3})) == 3


def test_a_saved_sweeps_label_names_each_value_once():
    assert frontier.values_label([2, 2, 4, 4]) == "{2, 4}"
    assert frontier.values_label([0.001, 0.01, 0.001]) == "{0.001, 0.01}"


def test_the_gallery_draws_one_labelled_panel_per_setting_in_rows_of_columns():
    rng = np.random.default_rng(0)
    panels = [(rng.random((32, 64)), f"k={k}") for k in (2, 4, 8, 16, 32)]
    picture = gallery(panels, (8, 8), columns=3, atoms_per_panel=16, scale=2)
    grid = atom_grid(panels[0][0][:16], (8, 8), scale=2)
    assert picture.width >= 3 * grid.width and picture.width < 4 * grid.width  # three panels a row
    assert 2 * grid.height < picture.height < 3 * grid.height  # two rows, each with a label band above
    pixels = np.asarray(picture)
    label_band = pixels[:grid.height // 4, :grid.width]  # above the first panel: its label, drawn in black
    assert (label_band.sum(axis=2) < 200).any()
    wider = gallery(panels, (8, 8), columns=5, atoms_per_panel=16, scale=2)
    assert wider.width > picture.width and wider.height < picture.height
    with pytest.raises(ValueError, match="at least one panel"):
        gallery([], (8, 8))


def test_the_gallery_has_a_column_per_value_of_the_first_setting_and_a_row_per_other_combination():
    groups = [{"model": "sae-topk", "k": k, "n_components": n} for n in (32, 16) for k in (8, 2, 4)]
    ordered, columns = frontier.gallery_layout(groups, ["k", "n_components"])
    assert columns == 3
    assert [label for _, label in ordered] == [f"k={k}, n_components={n}" for n in (16, 32) for k in (2, 4, 8)]
    two_models = groups[:1] + [{"model": "sae-l1", "k": 8, "n_components": 32}]
    assert [label for _, label in frontier.gallery_layout(two_models, ["k", "n_components"])[0]] == \
        ["sae-l1, k=8, n_components=32", "sae-topk, k=8, n_components=32"]


def test_the_trials_table_reads_down_the_grid():
    rows = [_row("sae-topk", k, seed, k, 0.1, f"{k}-{seed}") for k in (8, 2, 4) for seed in (1, 0)]
    assert [r["run_id"] for r in frontier.sorted_trials(rows, ["k"])] == ["2-0", "2-1", "4-0", "4-1", "8-0", "8-1"]
