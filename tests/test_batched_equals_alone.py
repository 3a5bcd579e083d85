"""One engine: a sweep's batched stack runs each SAE class's own training step with a leading stack
dimension, so every SAE trains the same in a stack as alone: losses, atoms, steps, and the divergence stop
(the same rule, the same last good weights)."""

from __future__ import annotations

import numpy as np
import pytest

from core import datasets, models
from core.sweep import DIVERGED, FINISHED, BatchedSAEStack, Sweep, SweepConfig
from core.training import TrainControl, TrainingDiverged, train_steps

BASE = {"n_components": 16, "max_steps": 60, "batch_size": 32, "learning_rate": 3e-3, "warmup_steps": 5,
        "random_state": 0, "device": "cpu", "log_every": 5, "dead_window": 96}

#: each SAE with a per-point parameter and two values; nnsae needs non-negative data (minmax digits are)
CASES = [("sae-l1", "l1_coef", [1e-3, 1e-2]), ("sae-kl", "sparsity_target", [0.05, 0.2]),
         ("sae-topk", "k", [2, 6]), ("sae-batchtopk", "k", [2, 6]), ("sae-jumprelu", "l0_coef", [1e-3, 1e-2]),
         ("sae-matryoshka", "k", [2, 6]), ("sae-gated", "l1_coef", [1e-3, 1e-2]),
         ("nnsae", "l1_coef", [1e-4, 1e-3])]
DIVERGE_AT = 30  # the step after which the learning rate jumps: late, so "last good" is not the initial state


@pytest.fixture(scope="module")
def X():
    return datasets.load("digits", scale="minmax", n_samples=300, seed=0).X


def test_every_sae_is_batchable_and_only_saes_are():
    assert models.batchable() == models.sae_models()
    assert set(models.sae_models()) == {name for name, _, _ in CASES}
    assert not models.family("nmf").batchable and not models.family("pca").iterative
    assert models.family("sae-topk").has_k and not models.family("sae-l1").has_k
    assert models.family("nnsae").non_negative and models.family("nmf").non_negative


def _alone(model, params, X, control=None):
    estimator = models.create(model, **params)
    losses, error = [], None
    try:
        for row in train_steps(estimator, X, control):
            losses.append(row["loss"])
            if control is not None and row["step"] == DIVERGE_AT:
                control.update(learning_rate=1e30)
    except TrainingDiverged as diverged:
        error = diverged
    return estimator, losses, error


def _batched(model, param, values, params, X, control=None):
    sweep = Sweep(SweepConfig(model, param, values, params))
    assert sweep.batched and sweep.groups == [list(range(len(values)))]
    for row in sweep.steps(X, control):
        if control is not None and row["step"] == DIVERGE_AT and row["point"] == len(values) - 1:
            control.update(learning_rate=1e30)
    return sweep


def _precisions(model):
    return ["fp32", "bf16"] if "precision" in models.default_params(model) else ["fp32"]


@pytest.mark.parametrize("model, param, values, precision",
                         [(m, p, v, prec) for m, p, v in CASES for prec in _precisions(m)])
def test_every_sae_trains_the_same_alone_and_in_a_batched_stack(model, param, values, precision, X):
    params = {**BASE, **({"precision": precision} if precision != "fp32" else {})}
    sweep = _batched(model, param, values, params, X)
    assert [p.status for p in sweep.points] == [FINISHED] * len(values)
    # bf16 rounds the stacked (batched) products differently from the single ones: the same run, matched
    # more loosely, on the reconstruction error (a latent on the edge of the dead window can be counted
    # dead in one and not the other, which switches AuxK's term in the loss on or off for a step)
    rel, atoms, column = (0.05, 0.02, "mse") if precision == "bf16" else (1e-3, 1e-4, "loss")
    for value, point in zip(values, sweep.points):
        single, _, error = _alone(model, {**params, param: value}, X)
        assert error is None and point.estimator.n_steps_ == single.n_steps_ == BASE["max_steps"]
        np.testing.assert_allclose([row[column] for row in point.estimator.history_],
                                   [row[column] for row in single.history_], rtol=rel,
                                   err_msg=f"{model} {param}={value}")
        assert np.median(np.abs(point.estimator.components_ - single.components_)) < atoms
        np.testing.assert_allclose(point.estimator.transform(X[:50]), single.transform(X[:50]),
                                   atol=50 * atoms, rtol=rel)


@pytest.mark.parametrize("model, param, values", CASES)
def test_every_sae_stops_a_late_divergence_the_same_alone_and_in_a_stack(model, param, values, X):
    sweep = _batched(model, param, values, BASE, X, TrainControl())
    for value, point in zip(values, sweep.points):
        single, _, error = _alone(model, {**BASE, param: value}, X, TrainControl())
        assert error is not None, f"{model} {param}={value} did not diverge alone: the case tests nothing"
        assert point.status == DIVERGED, (model, value, point.status)
        # both keep the weights whose logged loss was last finite: some steps in, not the initial ones
        assert point.estimator.n_steps_ == single.n_steps_ and DIVERGE_AT - 1 <= single.n_steps_ < BASE["max_steps"]
        assert [r["step"] for r in point.estimator.history_] == [r["step"] for r in single.history_]
        np.testing.assert_allclose(point.estimator.components_, single.components_, atol=1e-4)
        assert np.isfinite(point.estimator.transform(X[:20])).all()


def test_a_stack_refuses_mixed_or_unbatchable_models(X):
    with pytest.raises(ValueError, match="BatchedSAEStack trains one of"):
        BatchedSAEStack([models.create("sae-l1", **BASE), models.create("sae-kl", **BASE)], X)
    with pytest.raises(ValueError, match="BatchedSAEStack trains one of"):
        BatchedSAEStack([models.create("nmf", n_components=4)], X)


@pytest.mark.parametrize("model", [m for m, _, _ in CASES if "precision" in models.default_params(m)])
def test_a_stack_trains_in_the_precision_it_is_given(model, X):
    """The first steps of a bf16 stack repeat the bf16 run alone to float precision, and differ from the
    fp32 run by more: the stack does cast its products to bf16 (it once trained every sweep in fp32)."""
    params = {**BASE, "max_steps": 3, "log_every": 1, "k": 2}
    first_steps = {}
    for precision in ("fp32", "bf16"):
        alone = _alone(model, {**params, "precision": precision}, X)[0]
        stacked = _batched(model, "k", [2, 6], {**params, "precision": precision}, X).points[0].estimator
        first_steps[precision] = [r["mse"] for r in alone.history_]
        np.testing.assert_allclose([r["mse"] for r in stacked.history_], first_steps[precision], rtol=1e-6)
    assert np.max(np.abs(np.subtract(first_steps["bf16"], first_steps["fp32"]))) > 1e-6


def test_a_stacked_point_whose_loss_explodes_stops_by_the_rule_of_a_run_alone(X):
    """core.training's rule: a finite loss over a million times the data's mean square is divergence too."""
    stack = BatchedSAEStack([models.create("sae-l1", **{**BASE, "l1_coef": c, "log_every": 1})
                             for c in (1e-3, 1e-2)], X)
    metrics = stack.train_step(1)
    metrics["loss"] = metrics["loss"].clone()
    metrics["loss"][1] = 1e7 * float(np.mean(np.square(X)))
    assert stack.log(1, metrics)[1] is None and stack.diverged_at == [0, 1]
