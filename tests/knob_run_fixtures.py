"""A run whose knobs are moved as the Train page moves them, saved as the Train page saves it: shared by
tests/test_knob_schedule.py and tests/test_knob_change_at_stop.py (imported there, not a conftest)."""

from __future__ import annotations

from core import datasets, models
from core.jobs import TrainingJob
from core.jobs.saving import save_when_done
from core.store import RunStore

DATA, DATA_OPTIONS = "digits", {"n_samples": 200}


def steered_job(job_class: type[TrainingJob], params: dict) -> TrainingJob:
    """A ``job_class`` job (a ``TrainingJob`` whose ``row`` moves knobs or stops, as a user does) training a
    sae-topk with ``params`` on ``DATA``."""
    X = datasets.load(DATA, **DATA_OPTIONS).X
    return job_class(models.create("sae-topk", **params), X, model_name="sae-topk", dataset_name=DATA,
                     image_shape=(8, 8))


def saved_run(job: TrainingJob, root) -> tuple:
    """``job`` trained to its end and saved in a run store at ``root`` as the Train page saves it:
    (the job, its saving ticket, the store opened again)."""
    ticket = save_when_done(job, RunStore(root), dataset=DATA, data_options=DATA_OPTIONS)
    assert job.start()
    job.wait()
    assert ticket.done.wait(60) and ticket.error is None, ticket.error
    return job, ticket, RunStore(root)
