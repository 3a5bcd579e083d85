"""``python -m core sweep`` (issue 21): a JSON line per trial as it finishes, a summary line last, --out
folders, baselines, a failed trial reported while the others go on, and bad grids refused with the fix."""

from __future__ import annotations

import json

import pytest

from core import checkpoint
from core.cli import main
from core.cli_sweep import SUMMARY_KEYS, TRIAL_KEYS

DATA = ["--data", "digits", "--data-option", "scale=minmax", "--n-samples", "150"]
TINY = [*DATA, "--max-steps", "10", "--n-components", "8"]


def run(capsys, *argv: str, base: list[str] = TINY) -> tuple[int, list[dict], str]:
    status = main(["sweep", *base, *argv])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_a_grid_times_seeds_prints_a_line_per_trial_then_the_summary(capsys, tmp_path):
    status, lines, _ = run(capsys, "--model", "sae-topk", "--grid", "k=2,4", "--seeds", "2", "--out", str(tmp_path))
    assert status == 0
    *trials, summary = lines
    assert list(summary)[:4] == list(SUMMARY_KEYS) and summary["trials"] == 4 and summary["failed"] == 0
    assert summary["backend"] == "local" and summary["seconds"] > 0
    assert {(t["params"]["k"], t["seed"]) for t in trials} == {(2, 0), (2, 1), (4, 0), (4, 1)}
    for trial in trials:
        assert list(trial)[:len(TRIAL_KEYS)] == list(TRIAL_KEYS) and trial["status"] == "finished"
        assert trial["model"] == "sae-topk" and trial["data"] == "digits" and trial["device"] == "cpu"
        assert trial["params"]["random_state"] == trial["seed"] and trial["params"]["n_components"] == 8
        assert 0 < trial["l0"] <= trial["params"]["k"] and trial["seconds"] > 0
        folder = tmp_path / f"sae-topk_k={trial['params']['k']}_seed{trial['seed']}"
        assert trial["out"] == str(folder)
        assert json.loads((folder / "metrics.json").read_text())["mse"] == pytest.approx(trial["mse"])
        assert checkpoint.load(folder).get_params()["random_state"] == trial["seed"]
    by_seed = {(t["params"]["k"], t["seed"]): t["mse"] for t in trials}
    assert by_seed[2, 0] != by_seed[2, 1]  # the seeds are different runs


def test_nmf_sweeps_its_regularisation_with_baselines(capsys):
    status, lines, _ = run(capsys, "--model", "nmf", "--grid", "alpha_W=0,0.01", "--baselines")
    *trials, summary = lines
    assert status == 0 and summary["trials"] == 2
    assert [t["params"]["alpha_W"] for t in trials if not t.get("baseline")] == [0.0, 0.01]
    assert sorted(t["model"] for t in trials if t.get("baseline")) == ["nmf", "pca"]


def test_a_failed_trial_is_reported_and_the_others_go_on(capsys):
    # digits has 64 features: PCA cannot find 100 components
    status, lines, _ = run(capsys, "--model", "pca", "--grid", "n_components=100,4", base=DATA)
    *trials, summary = lines
    assert status == 1 and summary == {**summary, "trials": 2, "failed": 1}
    failed, trained = trials
    assert failed["status"] == "failed" and "n_components=100 is more than" in failed["error"]
    assert failed["mse"] is None and failed["seconds"] is None
    assert trained["status"] == "finished" and trained["mse"] > 0


@pytest.mark.parametrize("argv, message", [
    (["--grid", "k"], "is not PARAM=V1,V2,...; write e.g. --grid k=2,4,8"),
    (["--grid", "k=2,,4"], "is not PARAM=V1,V2"),
    (["--grid", "k=2,x"], "'x' is not a value of k"),
    (["--grid", "rho=0.1"], "has no parameter 'rho'"),
    (["--grid", "k=2", "--grid", "k=4"], "given twice"),
    (["--grid", "k=2", "--seeds", "two"], "give a count"),
    (["--grid", "k=2,16"], "k = 16 is more than the 8 atoms"),
])
def test_bad_grid_text_is_refused_naming_the_fix(capsys, argv, message):
    status, lines, err = run(capsys, "--model", "sae-topk", *argv)
    assert status == 2 and lines == [] and message in err
    assert err.startswith("error: ") and "Traceback" not in err
