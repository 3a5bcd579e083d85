"""Two sweeps shown together whose trials share a model, setting and seed, on other data or run again, stay
apart on the Sweep page: before, their trials were one point ('2 seeds, mean ± sd' of seed 0 twice, or of
digits and MNIST together)."""

from __future__ import annotations

from types import SimpleNamespace

from core.analysis import frontier


def _record(sweep: str, k: int, fvu: float, dataset: str = "digits", options: dict | None = None):
    return SimpleNamespace(id=f"20261205-094748-{sweep}{k}", model="sae-topk", dataset=dataset,
                           data_options=options or {}, sweep=sweep, status="finished", n_components=16,
                           params={"k": k, "n_components": 16, "random_state": 0},
                           metrics={"l0": float(k), "fvu": fvu}, extra={"sweep_grid": {"k": k}, "seed": 0})


def _groups(records):
    settings = frontier.swept_params(records)
    return settings, frontier.aggregate(frontier.trial_rows(records, settings), settings)


def test_sweeps_on_other_data_are_other_points_named_by_their_data():
    records = [_record("a", k, 0.5) for k in (2, 4)] + [_record("b", k, 0.1, "mnist") for k in (2, 4)]
    settings, groups = _groups(records)
    assert settings == ["k", "data"] and len(groups) == 4 and all(g["seeds"] == 1 for g in groups)
    assert {g["label"] for g in groups} >= {"sae-topk · k=2 · data=digits", "sae-topk · k=2 · data=mnist"}
    scaled = [_record("c", 2, 0.3, options={"scale": "minmax"})]
    _, groups = _groups(records[:1] + scaled)
    assert {g["data"] for g in groups} == {"digits", "digits (scale=minmax)"}


def test_a_sweep_run_again_is_its_own_point_not_a_second_seed():
    records = [_record("a", k, 0.5) for k in (2, 4)] + [_record("b", k, 0.4) for k in (2, 4)]
    settings, groups = _groups(records)
    assert settings == ["k", "sweep"] and len(groups) == 4 and all(g["seeds"] == 1 for g in groups)


def test_one_sweep_or_seeds_of_one_setting_are_not_split():
    records = [_record("a", k, 0.5) for k in (2, 4)]
    assert _groups(records)[0] == ["k"]
    seeds = [SimpleNamespace(**{**vars(_record("a", 2, 0.5)), "id": f"x{s}", "extra": {"sweep_grid": {"k": 2},
                                                                                     "seed": s}}) for s in (0, 1)]
    settings, groups = _groups(seeds)
    assert settings == ["k"] and [g["seeds"] for g in groups] == [2]
