"""core.sweep: batched sweeps match points trained alone, stop, group by shape, and store."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import datasets, models
from core.jobs.saving import save_sweep
from core.metrics import evaluate, mcc
from core.store import RunStore
from core.sweep import FINISHED, SKIPPED, STOPPED, BatchedSAEStack, Sweep, SweepConfig
from core.training import TrainControl

BASE = {"n_components": 24, "max_steps": 120, "batch_size": 64, "learning_rate": 3e-3, "warmup_steps": 10,
        "random_state": 0, "device": "cpu", "log_every": 20}


@pytest.fixture(scope="module")
def X():
    return datasets.load("digits", scale="minmax", n_samples=400, seed=0).X


def alone(model: str, param: str, value, X, **overrides):
    return models.create(model, **{**BASE, **overrides, param: value}).fit(X)


#: many latents, a short dead window: latents die, so AuxK shapes the result
DYING = {"n_components": 64, "dead_window": 256}


@pytest.mark.parametrize("model, param, values, overrides", [
    ("sae-topk", "k", [2, 4, 8], {}),
    ("sae-topk", "k", [1, 2], DYING),
    ("sae-batchtopk", "k", [2, 6], DYING),
    ("sae-l1", "l1_coef", [1e-3, 1e-2], {}),
    ("sae-kl", "sparsity_target", [0.05, 0.2], {}),
])
def test_batched_points_match_points_trained_alone(model, param, values, overrides, X):
    sweep = Sweep(SweepConfig(model, param, values, {**BASE, **overrides}))
    assert sweep.batched and sweep.notes == [] and sweep.groups == [list(range(len(values)))]
    estimators = sweep.run(X)
    assert [p.status for p in sweep.points] == [FINISHED] * len(values)
    for value, batched in zip(values, estimators):
        single = alone(model, param, value, X, **overrides)
        assert type(batched) is type(single) and getattr(batched, param) == value
        assert batched.n_steps_ == BASE["max_steps"]
        got, want = evaluate(batched, X), evaluate(single, X)
        assert got["mse"] == pytest.approx(want["mse"], rel=0.02), (value, got, want)
        assert got["l0"] == pytest.approx(want["l0"], rel=0.05, abs=0.05)
        assert mcc(batched.components_, single.components_) > 0.99  # the same atoms, not just the same error
        # Same init, same minibatches, element-wise Adam: on the CPU the stacked run reproduces the single
        # one to float precision. The median tolerates a rare tie broken differently by TopK; a wrong
        # step (no gradient projection, no AuxK, another stream) moves most entries by more than 3e-4.
        assert np.median(np.abs(batched.components_ - single.components_)) < 1e-4
        assert [r["step"] for r in batched.history_] == [r["step"] for r in single.history_]
        if overrides is DYING:
            assert max(r["auxk"] for r in single.history_) > 0  # the case does exercise AuxK


def test_topk_sweep_gives_exactly_k_active_codes_and_sparsity_trades_fidelity(X):
    values = [1, 3, 9]
    estimators = Sweep(SweepConfig("sae-topk", "k", values, BASE)).run(X)
    mses = []
    for k, estimator in zip(values, estimators):
        codes = estimator.transform(X)
        assert (np.count_nonzero(codes, axis=1) <= k).all()
        assert np.count_nonzero(codes, axis=1).mean() == pytest.approx(k, abs=0.05)
        mses.append(evaluate(estimator, X, codes)["mse"])
    assert mses[0] > mses[1] > mses[2]  # more active codes, smaller error


def test_a_sweep_trains_its_points_as_one_batched_stack_unless_asked_to_train_them_one_by_one(X, monkeypatch):
    """What ``batched`` decides; how much faster the stack is per point is measured by bench/sweep_speed.py."""
    import core.sweep

    stacks = []
    real_stack = core.sweep.BatchedSAEStack
    monkeypatch.setattr(core.sweep, "BatchedSAEStack",
                        lambda estimators, X: stacks.append(len(estimators)) or real_stack(estimators, X))
    config = dict(model="sae-topk", param="k", values=[1, 2, 4], base_params={**BASE, "max_steps": 20})
    together = Sweep(SweepConfig(**config))
    together.run(X)
    assert together.batched and stacks == [3]
    one_by_one = Sweep(SweepConfig(**config, batched=False))
    fitted = one_by_one.run(X)
    assert not one_by_one.batched and stacks == [3]
    assert [estimator.k for estimator in fitted] == [1, 2, 4] and all(e.n_steps_ == 20 for e in fitted)


def test_progress_rows_cover_every_point_and_reach_one(X):
    sweep = Sweep(SweepConfig("sae-l1", "l1_coef", [1e-3, 3e-3], BASE))
    rows = list(sweep.steps(X))
    assert len(rows) == 2 * BASE["max_steps"] // BASE["log_every"]
    expected = {"point", "param", "value", "group", "step", "progress", "seconds", "loss", "mse", "l0", "l1"}
    assert expected <= set(rows[0])
    progress = [r["progress"] for r in rows]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert [r["value"] for r in rows[:2]] == [1e-3, 3e-3]
    table = [{"l1_coef": point.value, **evaluate(point.estimator, X)} for point in sweep.points]
    assert [row["l1_coef"] for row in table] == [1e-3, 3e-3] and table[0]["l0"] > table[1]["l0"]


def test_stop_request_ends_the_current_group_and_skips_the_rest(X):
    sweep = Sweep(SweepConfig("sae-topk", "n_components", [16, 32], {**BASE, "k": 4}))
    assert sweep.groups == [[0], [1]]
    control = TrainControl()
    for row in sweep.steps(X, control):
        if row["step"] >= 40:
            control.request_stop()
    first, second = sweep.points
    assert (first.status, second.status) == (STOPPED, SKIPPED)
    assert first.estimator.n_steps_ == 40 and first.estimator.transform(X).shape == (len(X), 16)
    assert second.estimator is None and sweep.estimators()[1] is None


def test_points_of_different_shapes_train_in_their_own_groups(X):
    sweep = Sweep(SweepConfig("sae-topk", "n_components", [8, 16], {**BASE, "k": 3}))
    assert sweep.batched and sweep.groups == [[0], [1]]
    rows = list(sweep.steps(X))
    assert {r["group"] for r in rows if r["point"] == 1} == {1}
    for n, estimator in zip([8, 16], sweep.estimators()):
        assert estimator.components_.shape == (n, X.shape[1])
        np.testing.assert_allclose(np.linalg.norm(estimator.components_, axis=1), 1.0, atol=1e-5)
        single = alone("sae-topk", "n_components", n, X, k=3)
        assert evaluate(estimator, X)["mse"] == pytest.approx(evaluate(single, X)["mse"], rel=0.02)


def test_models_without_a_batched_trainer_train_one_after_another(X):
    sweep = Sweep(SweepConfig("nmf", "n_components", [3, 6], {"max_steps": 30, "random_state": 0, "device": "cpu"}))
    assert not sweep.batched and "one after another" in sweep.notes[0]
    estimators = sweep.run(X)
    assert [e.components_.shape[0] for e in estimators] == [3, 6]
    assert evaluate(estimators[0], X)["mse"] > evaluate(estimators[1], X)["mse"]
    unbatchable = Sweep(SweepConfig("sae-topk", "learning_rate", [1e-3, 3e-3], BASE))
    assert not unbatchable.batched and "learning_rate" in unbatchable.notes[0]
    control = TrainControl()
    rows = []
    for row in unbatchable.steps(X, control):
        rows.append(row)
        if row["step"] >= 60:
            control.request_stop()
    assert [p.status for p in unbatchable.points] == [STOPPED, SKIPPED]
    assert unbatchable.points[0].estimator.n_steps_ == 60 and rows[-1]["progress"] == pytest.approx(60 / 240)


def test_bad_sweeps_are_refused_before_training(X):
    with pytest.raises(ValueError, match="no parameter"):
        Sweep(SweepConfig("sae-topk", "rho", [0.1]))
    with pytest.raises(ValueError, match="at least one"):
        Sweep(SweepConfig("sae-topk", "k", []))
    with pytest.raises(ValueError, match="repeat"):
        Sweep(SweepConfig("sae-topk", "k", [2, 2]))
    with pytest.raises(ValueError, match="k=32 is larger"):
        Sweep(SweepConfig("sae-topk", "k", [2, 32], {**BASE, "n_components": 8})).run(X)


def test_a_diverging_point_keeps_its_last_good_weights_and_spares_the_others(X):
    # As alone (core.training): the weights kept are the last ones whose logged loss was finite, not the
    # weights after the last logged step (their loss was never seen).
    estimators = [models.create("sae-l1", **{**BASE, "l1_coef": c, "log_every": 1}) for c in (1e-3, 1e-2)]
    stack = BatchedSAEStack(estimators, X)
    stack.log(1, stack.train_step(1))
    after_one = stack.params["W_dec"][1].detach().clone()
    stack.log(2, stack.train_step(2))  # the loss of the weights after step 1: finite, so they are good
    metrics = stack.train_step(3)
    metrics["loss"] = torch.tensor([0.5, float("nan")])
    rows = stack.log(3, metrics)
    assert rows[0] is not None and rows[1] is None and stack.diverged_at == [0, 3]
    broken = stack.fitted_estimator(1, steps_done=3)
    np.testing.assert_array_equal(broken.components_, after_one.numpy())
    assert broken.n_steps_ == 1 and [r["step"] for r in broken.history_] == [1, 2]
    spared = stack.fitted_estimator(0, 3)
    assert spared.n_steps_ == 3 and not np.array_equal(spared.components_, after_one.numpy())


def test_live_learning_rate_changes_reach_every_point_and_others_are_refused(X):
    estimators = [models.create("sae-topk", **{**BASE, "k": k}) for k in (2, 4)]
    stack = BatchedSAEStack(estimators, X)
    stack.apply_live_updates({"learning_rate": 1e-4})
    stack.train_step(BASE["warmup_steps"])
    assert stack.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert all(e.learning_rate == 1e-4 for e in estimators)
    with pytest.raises(ValueError, match="only learning_rate"):
        stack.apply_live_updates({"k": 3})


def test_sweep_results_round_trip_through_the_store(tmp_path, X):
    sweep = Sweep(SweepConfig("sae-batchtopk", "k", [2, 5], BASE))
    estimators = sweep.run(X)
    store = RunStore(tmp_path / "runs")
    records = save_sweep(store, sweep, dataset="digits", data_options={"scale": "minmax", "n_samples": 400}, X=X,
                         image_shape=(8, 8))
    assert [r.id for r in reversed(store.list_runs(sweep=sweep.id))] == [r.id for r in records]
    for record, estimator, k in zip(records, estimators, [2, 5]):
        assert record.extra["sweep_value"] == k and record.params["k"] == k and record.image_shape == (8, 8)
        assert record.metrics["l0"] == pytest.approx(evaluate(estimator, X)["l0"])
        loaded = RunStore(store.root).load_model(record.id)
        np.testing.assert_array_equal(loaded.transform(X), estimator.transform(X))
        np.testing.assert_array_equal(loaded.threshold_, estimator.threshold_)
