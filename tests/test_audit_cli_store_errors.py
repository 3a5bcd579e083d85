"""``python -m core export RUN_ID`` / ``import`` against a run store that cannot serve them: one line saying
what to pass (exit 2), never "unexpected ... This is a bug" (exit 1), and no empty store made on the way."""

from __future__ import annotations

import json

import pytest

from core import cli, datasets, models
from core.store import RunStore


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory):
    """A store holding one small TopK SAE, and the SAE exported to SAELens' layout (to import)."""
    root = tmp_path_factory.mktemp("store")
    X = datasets.load("digits", n_samples=100).X
    sae = models.create("sae-topk", n_components=8, k=2, max_steps=5, random_state=0, device="cpu").fit(X)
    record = RunStore(root).save_run(sae, dataset="digits", data_options={"n_samples": 100}, X=X, history=[])
    return root, record.id


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_run_id_missing_from_the_store_names_the_store_and_store_flag(stored_run, tmp_path, capsys):
    root, run_id = stored_run
    missing = run_id[:-4] + "ffff"
    code, _, err = run(capsys, "export", missing, "--format", "saelens", "--out", str(tmp_path / "x"),
                       "--store", str(root))
    assert code == 2, err
    assert "bug" not in err and f"no run {missing}" in err and "--store" in err
    assert "RunStore.list_runs" not in err  # the Python API is no help on the command line


def test_a_run_id_without_any_store_is_refused_and_no_store_is_made(stored_run, tmp_path, capsys, monkeypatch):
    _, run_id = stored_run
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SAE_EXPLORER_RUNS", raising=False)
    code, _, err = run(capsys, "export", run_id, "--format", "saelens", "--out", "x")
    assert code == 2 and "bug" not in err
    assert "no run store at" in err and "--store" in err
    assert list(tmp_path.iterdir()) == []  # no ./runs made as a side effect of a failed look-up


def test_the_run_found_with_store_exports(stored_run, tmp_path, capsys):
    root, run_id = stored_run
    code, out, err = run(capsys, "export", run_id, "--format", "sparsify", "--out", str(tmp_path / "x"),
                         "--store", str(root))
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["files"] == ["cfg.json", "sae.safetensors"]


def test_a_store_path_that_is_a_file_is_a_usage_error(stored_run, tmp_path, capsys):
    root, run_id = stored_run
    exported = tmp_path / "saelens"
    assert run(capsys, "export", run_id, "--format", "saelens", "--out", str(exported), "--store", str(root))[0] == 0
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    code, _, err = run(capsys, "import", str(exported), "--store", str(a_file))
    assert code == 2 and "bug" not in err
    assert "is a file" in err and "--store" in err
