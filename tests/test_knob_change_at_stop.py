"""A knob change made after the last logged row, then Stop: the run still keeps the change. The stop then ends
the run after one more step, logged as its last row with the change, so the run's schedule, its config.json
and ``python -m core train --config`` keep it and replay it to the same weights. A run that ends by diverging
goes back to its last good weights and to the knob values they were trained with."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import checkpoint, cli, datasets, models, schedule
from core.jobs import TrainingJob
from core.training import TrainControl
from knob_run_fixtures import DATA, DATA_OPTIONS, saved_run, steered_job

PARAMS = dict(n_components=16, k=4, max_steps=60, batch_size=64, learning_rate=0.003, random_state=3,
              device="cpu", log_every=10)
MOVED_AFTER_ROW = 30  # the slider moves once this row is shown: the change first trains step 31
STOP_DURING = 35  # Stop is pressed while this step trains, before the next logged row (step 40)
EXPECTED = [{"step": 31, "param": "k", "old": 4, "new": 2}]


class SteeredJob(TrainingJob):
    """A job whose k is moved (``job.update``, the Train page's call) after the row of ``MOVED_AFTER_ROW``."""

    def row(self, row):
        super().row(row)
        if row["step"] == MOVED_AFTER_ROW:
            self.update(k=2)


def during_step(model, step: int, action) -> None:
    """Call ``action()`` while ``model`` trains ``step``, as a click between two logged rows lands (Stop, a
    slider)."""
    train_step = model._train_step

    def stepped(number):
        metrics = train_step(number)
        if number == step:
            action()
        return metrics

    model._train_step = stepped


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run whose k moved after row 30 and that was stopped at step 35, saved as the Train page saves it."""
    job = steered_job(SteeredJob, PARAMS)
    during_step(job.model, STOP_DURING, job.stop)
    return saved_run(job, tmp_path_factory.mktemp("runs"))


def test_the_change_reaches_the_history_on_a_last_logged_row(stopped_run):
    job, _, _ = stopped_run
    history = job.snapshot().history
    assert schedule.schedule_of(history) == EXPECTED
    last = history[-1]
    assert last["step"] == STOP_DURING + 1 == job.model.n_steps_  # one more step, logged, ends the run
    assert last["event"] == {"k": 2}
    assert {"l0", "dead_fraction"} <= set(last)  # a full row: the page's curves keep every metric
    assert schedule.chart_events(history) == [(STOP_DURING + 1, {"k": 2})]


def test_the_store_and_its_config_keep_the_change(stopped_run):
    _, ticket, reopened = stopped_run
    assert schedule.schedule_of(reopened.load_history(ticket.run_id)) == EXPECTED
    config = checkpoint.read_config(reopened.run_folder(ticket.run_id))
    assert config["schedule"] == EXPECTED and config["steps"] == STOP_DURING + 1
    assert config["params"]["k"] == 4  # the run started with k = 4


def test_the_cli_replays_it_to_the_same_weights(stopped_run, tmp_path, capsys):
    job, ticket, reopened = stopped_run
    archive = tmp_path / "run.zip"
    archive.write_bytes(reopened.checkpoint_bytes(ticket.run_id))
    out = tmp_path / "replayed"
    code = cli.main(["train", "--config", str(archive), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "replaying 1 knob change" in err and f"stopping after step {STOP_DURING + 1}" in err
    replayed = checkpoint.load(out)
    for name, weights in job.model.get_weights().items():
        np.testing.assert_allclose(replayed.get_weights()[name], weights, rtol=1e-4, atol=1e-5, err_msg=name)
    again = checkpoint.read_config(out)
    assert again["schedule"] == EXPECTED and again["steps"] == STOP_DURING + 1
    assert json.dumps(again["params"], sort_keys=True) == json.dumps(
        checkpoint.read_config(reopened.run_folder(ticket.run_id))["params"], sort_keys=True)


def test_nmf_keeps_a_change_made_just_before_stop_and_replays_it():
    """NMF has no metrics kept for logged steps only: the same rule, through the loop alone."""
    X = datasets.load(DATA, **DATA_OPTIONS).X
    params = dict(n_components=8, max_steps=60, log_every=10, tol=0.0, random_state=0, device="cpu")
    model, control = models.create("nmf", **params), TrainControl()
    during_step(model, 23, control.request_stop)
    rows = []
    for row in model.fit_iter(X, control):
        rows.append(row)
        if row["step"] == 20:
            control.update(alpha_W=0.01)
    del model._train_step
    changes = schedule.schedule_of(model.history_)
    assert changes == [{"step": 21, "param": "alpha_W", "old": 0.0, "new": 0.01}]
    assert rows[-1]["step"] == model.n_steps_ == 24
    replayed = models.create("nmf", **params)
    for _ in replayed.fit_iter(X, schedule.ScheduledControl(changes, stop_after=model.n_steps_)):
        pass
    assert replayed.n_steps_ == 24 and schedule.schedule_of(replayed.history_) == changes
    np.testing.assert_allclose(replayed.components_, model.components_, rtol=1e-5, atol=1e-6)


def test_a_stop_with_nothing_unrecorded_ends_before_the_next_step():
    X = datasets.load(DATA, **DATA_OPTIONS).X
    model, control = models.create("sae-topk", **PARAMS), TrainControl()
    during_step(model, STOP_DURING, control.request_stop)
    rows = list(model.fit_iter(X, control))
    assert model.n_steps_ == STOP_DURING and rows[-1]["step"] == 30


def test_a_change_that_blows_the_run_up_is_undone_with_its_weights():
    """The run ends by diverging at the first row after the change: the model goes back to the weights of
    step 29 and so to the knobs they were trained with, and its parameters replay to those weights."""
    from core.training import TrainingDiverged

    X = datasets.load(DATA, **DATA_OPTIONS).X
    params = {**PARAMS, "warmup_steps": 0}
    model, control = models.create("sae-topk", **params), TrainControl()
    with pytest.raises(TrainingDiverged, match="at step 40.*weights from step 29"):
        for row in model.fit_iter(X, control):
            if row["step"] == 30:
                control.update(learning_rate=1e6, k=2)
    assert (model.learning_rate, model.k) == (0.003, 4) and schedule.schedule_of(model.history_) == []
    replayed = models.create("sae-topk", **model.get_params())
    for _ in replayed.fit_iter(X, schedule.ScheduledControl([], stop_after=model.n_steps_)):
        pass
    for name, weights in model.get_weights().items():
        np.testing.assert_allclose(replayed.get_weights()[name], weights, rtol=1e-5, atol=1e-6, err_msg=name)


def test_a_change_on_the_last_good_row_but_after_the_kept_weights_is_undone_too():
    """k moved while step 29 trained first trains step 30, after the weights kept (those after step 29): the
    row of step 30 keeps the change in the history, and the model's k goes back to the one they were
    trained with."""
    from core.training import TrainingDiverged

    X = datasets.load(DATA, **DATA_OPTIONS).X
    params = {**PARAMS, "warmup_steps": 0}
    model, control = models.create("sae-topk", **params), TrainControl()
    during_step(model, 29, lambda: control.update(k=2))
    with pytest.raises(TrainingDiverged, match="weights from step 29"):
        for row in model.fit_iter(X, control):
            if row["step"] == 30:
                control.update(learning_rate=1e6)
    del model._train_step
    changes = schedule.schedule_of(model.history_)
    assert changes == [{"step": 30, "param": "k", "old": 4, "new": 2}] and model.k == 4
    started = schedule.starting_params(model.get_params(), changes)
    replayed = models.create("sae-topk", **started)
    for _ in replayed.fit_iter(X, schedule.ScheduledControl(changes, stop_after=model.n_steps_)):
        pass
    for name, weights in model.get_weights().items():
        np.testing.assert_allclose(replayed.get_weights()[name], weights, rtol=1e-5, atol=1e-6, err_msg=name)
