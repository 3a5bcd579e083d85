"""Train page: 'Reset to defaults' for the model's knobs, and a collapsed run said so on the page and in the
run store (core.metrics.collapse)."""

from __future__ import annotations

import pytest

from app_support import app_state, open_page, stop_job
from core import metrics
from core.store import RunStore
from ui import knobs


# -- the rule ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("values, collapsed", [
    ({"dead_fraction": 0.9, "l0": 3.0}, True),  # 90% or more of the atoms dead
    ({"dead_fraction": 0.97, "l0": 0.001}, True),
    ({"dead_fraction": 0.2, "l0": 0.0}, True),  # no code fires
    ({"dead_fraction": 0.5, "l0": 0.004}, True),  # L0 at 0 to the page's one decimal
    ({"dead_fraction": 0.89, "l0": 0.05}, False),
    ({"mse": 0.5}, False),  # nothing to judge by
    ({"dead_fraction": float("nan"), "l0": float("nan")}, False),  # a diverged run is not called collapsed
])
def test_a_run_has_collapsed_when_most_atoms_are_dead_or_no_code_fires(values, collapsed):
    reason = metrics.collapse(values)
    assert (reason is not None) == collapsed
    if collapsed:
        assert "dead" in reason or "L0 = " in reason


def test_the_run_store_records_whether_a_run_collapsed(tmp_path):
    from core import datasets, models

    X = datasets.load("digits", n_samples=200).X
    model = models.create("pca", n_components=4).fit(X)
    store = RunStore(tmp_path)
    dead = store.save_run(model, dataset="digits", metrics={"mse": 0.1, "l0": 0.2, "dead_fraction": 0.95})
    healthy = store.save_run(model, dataset="digits", metrics={"mse": 0.1, "l0": 3.0, "dead_fraction": 0.1})
    unknown = store.save_run(model, dataset="digits", metrics={"mse": 0.1})
    evaluated = store.save_run(model, dataset="digits", X=X)  # core.metrics.evaluate's metrics
    assert store.get(dead.id).metrics["collapsed"] is True and store.get(dead.id).collapsed is True
    assert store.get(healthy.id).metrics["collapsed"] is False and store.get(healthy.id).collapsed is False
    assert "collapsed" not in store.get(unknown.id).metrics and store.get(unknown.id).collapsed is None
    assert store.get(evaluated.id).collapsed is False
    # a run saved before the flag was recorded is judged by its metrics the same way
    import sqlite3

    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE runs SET metrics = ? WHERE id = ?", ('{"l0": 0.0, "dead_fraction": 0.5}', healthy.id))
    assert store.get(healthy.id).collapsed is True


# -- the page ------------------------------------------------------------------------------------------------
@pytest.fixture
def train_page():
    at = open_page("views/train.py")
    yield at
    stop_job(at)


def _reset_button(at):
    (button,) = [b for b in at.button if b.label == "Reset to defaults"]
    return button


def test_reset_to_defaults_brings_back_the_knobs_that_carried_over_from_an_earlier_run(train_page):
    at = train_page
    defaults = knobs.defaults("sae-topk")
    assert _reset_button(at).disabled  # nothing moved yet
    at.slider(key="param:sae-topk:k").set_value(2).run()
    at.select_slider(key="param:sae-topk:learning_rate").set_value(0.1).run()
    # another model and back: the moved values come back silently (what a later run would use)
    at.selectbox(key="train:model").set_value("sae-l1").run()
    at.selectbox(key="train:model").set_value("sae-topk").run()
    assert at.slider(key="param:sae-topk:k").value == 2
    button = _reset_button(at)
    assert not button.disabled and "k = 2" in button.help and "Learning rate = 0.1" in button.help
    button.click().run()
    assert not at.exception
    assert at.slider(key="param:sae-topk:k").value == defaults["k"]
    assert at.select_slider(key="param:sae-topk:learning_rate").value == defaults["learning_rate"]
    assert app_state(at).params["sae-topk"]["k"] == defaults["k"]
    assert _reset_button(at).disabled
    at.button[0].click().run()  # Train: the new run gets the defaults
    assert app_state(at).job.params["k"] == defaults["k"]


def test_a_collapsed_run_says_so_next_to_the_metrics_with_the_fix_and_is_recorded(train_page):
    at = train_page
    at.selectbox(key="train:model").set_value("sae-l1").run()
    at.select_slider(key="param:sae-l1:l1_coef").set_value(1.0).run()
    at.select_slider(key="param:sae-l1:learning_rate").set_value(0.1).run()
    at.select_slider(key="param:sae-l1:max_steps").set_value(500).run()
    at.button[0].click().run()
    state = app_state(at)
    assert state.job.wait(180)
    at.run()
    final = state.job.snapshot().metrics
    assert metrics.collapse(final), final
    (warning,) = [w.value for w in at.warning if "collapsed" in w.value]
    assert "atoms are dead" in warning or "L0 = " in warning
    assert "a lower L1 weight (now 1)" in warning and "a lower learning rate (now 0.1)" in warning
    ticket = state.save_ticket
    assert ticket.done.wait(60) and ticket.error is None
    assert RunStore().get(ticket.run_id).collapsed is True
