"""A knob moved while a run trains its last step never trains: when the run ends, the job's parameters (what
the Train page shows and saves as the run's settings) are the values the model ended with, not the request."""

from __future__ import annotations

from core import datasets, models
from core.jobs import TrainingJob

PARAMS = dict(n_components=16, k=4, max_steps=20, batch_size=64, learning_rate=0.003, random_state=3,
              device="cpu", log_every=5)


def test_a_knob_moved_during_the_last_step_is_not_reported_as_the_runs_value():
    X = datasets.load("digits", n_samples=200).X
    job = TrainingJob(models.create("sae-topk", **PARAMS), X, model_name="sae-topk", dataset_name="digits")
    train_step = job.model._train_step
    accepted = {}

    def stepped(number):
        metrics = train_step(number)
        if number == PARAMS["max_steps"]:  # the slider moves while the last step trains
            accepted.update(job.update(k=2))
        return metrics

    job.model._train_step = stepped
    assert job.start()
    assert job.wait(timeout=120)
    assert accepted == {"k": 2}  # the request was taken while the run was still going
    assert job.model.k == 4 and job.params["k"] == 4
    assert all(not row.get("changes") for row in job.model.history_)
