"""``python -m core train --config`` finds the file a run trained on: ``train --data FILE`` records its absolute
path (``data_path``), so the replay works from any folder; when the file cannot be found (an upload, a moved
file) the error says what to pass with ``--data``, never "File not found: .../upload: acts.npy"."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import checkpoint, cli
from core.store import RunStore

FLAGS = ["--model", "sae-topk", "--k", "2", "--n-components", "4", "--max-steps", "5", "--quiet"]


@pytest.fixture(scope="module")
def file_run(tmp_path_factory):
    """A run trained on a .npy given by a relative path, written with --out."""
    root = tmp_path_factory.mktemp("replay")
    data = root / "data"
    data.mkdir()
    np.save(data / "acts.npy", np.random.default_rng(0).normal(size=(60, 6)).astype(np.float32))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert cli.main(["train", "--data", "data/acts.npy", *FLAGS, "--out", "run"]) == 0
    return root


def replay(capsys, config, *flags: str) -> tuple[int, str]:
    code = cli.main(["train", "--config", str(config), "--quiet", *flags])
    return code, capsys.readouterr().err


def test_the_config_records_the_files_absolute_path(file_run):
    config = checkpoint.read_config(file_run / "run")
    assert config["data"] == "acts.npy"
    assert config["data_path"] == str((file_run / "data" / "acts.npy").resolve())


def test_the_replay_finds_the_file_from_another_folder(file_run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = replay(capsys, file_run / "run", "--out", "again")
    assert code == 0, err
    saved, again = checkpoint.load(file_run / "run"), checkpoint.load(tmp_path / "again")
    for name, weights in saved.get_weights().items():
        np.testing.assert_array_equal(again.get_weights()[name], weights, err_msg=name)


def test_a_moved_file_names_the_recorded_path_and_data_flag(file_run, tmp_path, capsys, monkeypatch):
    config = checkpoint.read_config(file_run / "run")
    moved = tmp_path / "config.json"
    moved.write_text(json.dumps({**config, "data_path": str(tmp_path / "gone" / "acts.npy")}))
    np.save(tmp_path / "acts.npy", np.ones((60, 6), dtype=np.float32))  # another file of the same name: not it
    monkeypatch.chdir(tmp_path)
    code, err = replay(capsys, moved)
    assert code == 2
    assert str(tmp_path / "gone" / "acts.npy") in err and "--data PATH" in err


def test_an_uploaded_files_run_says_to_give_the_file(file_run, tmp_path, capsys, monkeypatch):
    config = checkpoint.read_config(file_run / "run")
    del config["data_path"]
    upload = tmp_path / "config.json"
    upload.write_text(json.dumps({**config, "data": "upload: acts.npy"}))  # as the app's download names it
    monkeypatch.chdir(tmp_path)
    code, err = replay(capsys, upload)
    assert code == 2
    assert "uploaded file, acts.npy" in err and "--data PATH/TO/acts.npy" in err
    assert "File not found" not in err  # not the path 'upload: acts.npy' looked up in the current folder
    code, err = replay(capsys, upload, "--data", str(file_run / "data" / "acts.npy"))
    assert code == 0, err


def test_an_imported_sae_is_not_replayed_as_if_trained_here(file_run, tmp_path, capsys):
    """An SAE brought in by `import` has no run to replay: its config says where it came from and --config
    says so, instead of training a new SAE from its settings as if replaying it."""
    exported, store = tmp_path / "saelens", tmp_path / "store"
    assert cli.main(["export", str(file_run / "run"), "--format", "saelens", "--out", str(exported)]) == 0
    assert cli.main(["import", str(exported), "--store", str(store)]) == 0
    run_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    folder = store / "runs" / run_id
    assert checkpoint.read_config(folder)["imported_from"] == str(exported)
    code, err = replay(capsys, folder)
    assert code == 2 and "imported from" in err and "no run to replay" in err


def test_an_sae_imported_with_its_data_file_is_measured_and_named_as_an_upload(file_run, tmp_path, capsys):
    """`import --dataset FILE` measures the SAE on the file and records it as the Data page names that file
    uploaded, the one name Inspect matches a run's data with."""
    exported = tmp_path / "sparsify"
    assert cli.main(["export", str(file_run / "run"), "--format", "sparsify", "--out", str(exported)]) == 0
    acts = file_run / "data" / "acts.npy"
    assert cli.main(["import", str(exported), "--dataset", str(acts), "--store", str(tmp_path / "store")]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["dataset"] == "upload: acts.npy"
    record = RunStore(tmp_path / "store").get(line["run_id"])
    assert record.dataset == "upload: acts.npy" and record.metrics["fvu"] >= 0
