"""A run's knob changes (issue 20): kept in the run store, exported in config.json with the parameters the
run started with, replayed by ``python -m core train --config`` to the same weights, and drawn on the
stored run's loss curve."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import numpy as np
import pytest

from core import checkpoint, cli, schedule
from core.jobs import TrainingJob
from core.jobs.saving import export_bytes
from knob_run_fixtures import DATA_OPTIONS, saved_run, steered_job

PARAMS = dict(n_components=16, k=4, max_steps=120, batch_size=64, learning_rate=0.003, random_state=3,
              device="cpu", log_every=10)
# moved as the Train page moves them: through the job, while it trains (here right after the rows of these
# steps, so each change first trains the next step, between two logged rows)
MOVES = {30: {"k": 2}, 70: {"learning_rate": 0.01, "k": 6}}
EXPECTED = [{"step": 31, "param": "k", "old": 4, "new": 2},
            {"step": 71, "param": "learning_rate", "old": 0.003, "new": 0.01},
            {"step": 71, "param": "k", "old": 2, "new": 6}]
STOP_AT = 110  # then Stop is pressed: the run ends after this step, short of max_steps


class SteeredJob(TrainingJob):
    """A job whose knobs are moved by ``job.update`` (the Train page's call) after the rows of ``MOVES``, and
    stopped (``job.stop``, the Stop button) after the row of ``STOP_AT``."""

    def row(self, row):
        super().row(row)
        if row["step"] in MOVES:
            self.update(**MOVES[row["step"]])
        if row["step"] == STOP_AT:
            self.stop()


@pytest.fixture(scope="module")
def live_run(tmp_path_factory):
    """A run whose knobs moved twice, saved as the Train page saves it; the store opened again afterwards."""
    return saved_run(steered_job(SteeredJob, PARAMS), tmp_path_factory.mktemp("runs"))


def config_of(archive: bytes) -> dict:
    return json.loads(zipfile.ZipFile(io.BytesIO(archive)).read(checkpoint.CONFIG_FILE))


def replay(tmp_path, capsys, config_path, *flags: str) -> tuple[int, dict, str]:
    out = tmp_path / "replayed"
    code = cli.main(["train", "--config", str(config_path), "--out", str(out), "--quiet", *flags])
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1]) if code == 0 else {}
    return code, summary, captured.err


def test_the_store_keeps_each_change_with_its_step_and_old_value(live_run):
    job, ticket, reopened = live_run
    assert schedule.schedule_of(reopened.load_history(ticket.run_id)) == EXPECTED
    config = checkpoint.read_config(reopened.run_folder(ticket.run_id))
    assert config["schedule"] == EXPECTED and config["steps"] == STOP_AT
    # the parameters the run started with, not the final ones the model holds
    assert (config["params"]["k"], config["params"]["learning_rate"]) == (4, 0.003)
    assert (job.model.k, job.model.learning_rate) == (6, 0.01)
    assert reopened.get(ticket.run_id).params["k"] == 4


def test_the_train_download_holds_what_the_store_holds(live_run):
    job, ticket, reopened = live_run
    downloaded = config_of(export_bytes(job, ticket))
    stored = config_of(reopened.checkpoint_bytes(ticket.run_id))
    for key in ("model", "params", "schedule", "steps", "data", "data_options", "image_shape", "run_id"):
        assert downloaded[key] == stored[key], key
    assert downloaded["data_options"] == DATA_OPTIONS
    # the page's ticket may be an earlier run's (a run opened from a link): its data and id are not this run's
    earlier = dataclasses.replace(ticket, job_id=job.id + 1)
    assert "run_id" not in config_of(export_bytes(job, earlier))


def test_the_cli_replays_the_schedule_to_the_same_weights(live_run, tmp_path, capsys):
    job, ticket, reopened = live_run
    archive = tmp_path / "run.zip"
    archive.write_bytes(reopened.checkpoint_bytes(ticket.run_id))
    code, summary, err = replay(tmp_path, capsys, archive)
    assert code == 0, err
    assert "replaying 3 knob changes" in err and f"stopping after step {STOP_AT}" in err
    replayed = checkpoint.load(tmp_path / "replayed")
    for name, weights in job.model.get_weights().items():
        np.testing.assert_allclose(replayed.get_weights()[name], weights, rtol=1e-4, atol=1e-5, err_msg=name)
    assert summary["mse"] == pytest.approx(job.snapshot().metrics["mse"], rel=1e-4)
    # the replay's own export is the same run again: same start, same schedule
    again = checkpoint.read_config(tmp_path / "replayed")
    assert again["params"] == config_of(archive.read_bytes())["params"] and again["schedule"] == EXPECTED
    assert again["steps"] == STOP_AT


def test_without_its_schedule_the_replay_ends_elsewhere(live_run, tmp_path, capsys):
    job, ticket, reopened = live_run
    config = checkpoint.read_config(reopened.run_folder(ticket.run_id))
    del config["schedule"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    code, summary, err = replay(tmp_path, capsys, path)
    assert code == 0, err
    replayed = checkpoint.load(tmp_path / "replayed")
    gap = np.abs(replayed.components_ - job.model.components_).max()
    assert gap > 1e-2, "the knob changes made no difference: the replay test could not fail"


def test_a_stored_run_draws_its_changes_where_the_live_run_drew_them(live_run):
    from ui import run_address, train_live

    job, ticket, reopened = live_run
    history = reopened.load_history(ticket.run_id)
    assert schedule.chart_events(history) == job.snapshot().events == [(40, {"k": 2}),
                                                                        (80, {"learning_rate": 0.01, "k": 6})]
    # as on the page, where moves seconds apart get a mark each (this test's run took well under a second)
    spaced = [{**row, "seconds": row["step"] / 10} for row in history]
    # the Train page's view of a finished run opened from its link (ui.run_address)
    opened = run_address.StoredRun(reopened.get(ticket.run_id), reopened.load_model(ticket.run_id), spaced)
    option, described = train_live.loss_chart(opened.snapshot(), "Loss")
    marked = [mark["xAxis"] for mark in option["series"][0]["markLine"]["data"] if "xAxis" in mark]
    assert marked == [40, 80]
    assert "k = 2 at step 40" in described and "at step 80" in described


def test_history_csv_keeps_the_changes_as_json(live_run):
    job, _, _ = live_run
    rows = cli.history_csv(job.model.history_).splitlines()
    header = rows[0].split(",")
    assert header[-2:] == ["event", "changes"]
    changed = [line for line in rows if "learning_rate" in line]
    assert len(changed) == 1 and '""step"": 71' in changed[0]


@pytest.mark.parametrize("schedule_value, words", [
    ("not a list", "must be a list"),
    ([{"step": 0, "param": "k", "new": 2}], "'step' must be a whole number"),
    ([{"step": 5, "param": "n_components", "new": 2}], "cannot change during a run"),
    ([{"step": 500, "param": "k", "new": 2}], "after the run's last step"),
    ([{"step": 9, "param": "k", "new": 2}, {"step": 5, "param": "k", "new": 3}], "must not go backwards"),
])
def test_a_bad_schedule_is_refused_with_what_to_fix(live_run, tmp_path, capsys, schedule_value, words):
    _, ticket, reopened = live_run
    config = checkpoint.read_config(reopened.run_folder(ticket.run_id))
    config["schedule"] = schedule_value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    code, _, err = replay(tmp_path, capsys, path)
    assert code == cli.EXIT_ERROR and words in err and "Traceback" not in err


def test_flags_that_would_change_the_replay_are_refused(live_run, tmp_path, capsys):
    _, ticket, reopened = live_run
    folder = reopened.run_folder(ticket.run_id)
    code, _, err = replay(tmp_path, capsys, folder, "--k", "3")
    assert code == cli.EXIT_ERROR and "--k cannot be given" in err
    assert cli.main(["train", "--model", "sae-topk"]) == cli.EXIT_ERROR
    assert "--data is required (or --config CONFIG" in capsys.readouterr().err


def test_starting_params_take_each_knobs_first_old_value():
    assert schedule.starting_params({"k": 6, "learning_rate": 0.01, "n_components": 16}, EXPECTED) == {
        "k": 4, "learning_rate": 0.003, "n_components": 16}


def test_inspect_draws_a_saved_runs_curve_with_its_knob_changes(live_run, monkeypatch):
    from app_support import elements, open_page

    _, ticket, reopened = live_run
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(reopened.root))
    at = open_page("views/inspect.py")
    assert not at.exception and not at.error
    assert at.selectbox(key="inspect:run").value == ticket.run_id
    assert "Training" in [tab.label for tab in at.tabs]
    (chart,) = [c for c in elements(at, "echarts_chart") if c.proto.id.endswith("inspect:curve-chart")]
    marks = json.loads(chart.proto.spec)["series"][0]["markLine"]["data"]
    steps = [mark["xAxis"] for mark in marks if "xAxis" in mark]
    assert steps in ([40, 80], [80])  # moves within a second share a mark, as on the live chart
    assert "k = 6" in marks[-1]["name"] and "Learning rate = 0.01" in marks[-1]["name"]
    (table,) = [frame for frame in at.dataframe if list(frame.value.columns) == ["Step", "Knob", "From", "To"]]
    assert table.value.to_dict("records") == [{"Step": 31, "Knob": "k", "From": "4", "To": "2"},
                                              {"Step": 71, "Knob": "Learning rate", "From": "0.003", "To": "0.01"},
                                              {"Step": 71, "Knob": "k", "From": "2", "To": "6"}]
