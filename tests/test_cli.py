"""The command line, ``python -m core datasets | models | train``: in-process through ``core.cli.main``
(fast), and twice as a real ``python -m core`` subprocess to prove the entry point."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core.models
from core import checkpoint, cli, datasets, metrics, models, render

REPO = Path(__file__).resolve().parents[1]
REQUIRED_KEYS = {"model", "data", "n_samples", "n_features", "n_components", "mse", "fvu", "l0",
                 "dead_fraction", "pca_mse", "seconds", "device"}
# small and fast: 300 digits, the CPU, no progress bar unless a test wants one
FAST = ["--data", "digits", "--n-samples", "300", "--device", "cpu"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def last_json(out: str) -> dict:
    lines = out.strip().splitlines()
    assert lines, "nothing on stdout"
    return json.loads(lines[-1])


def error_line(err: str) -> str:
    """The last line a terminal shows on stderr (a progress bar is erased with a carriage return)."""
    parts = [p.strip() for p in err.replace("\r", "\n").split("\n") if p.strip()]
    assert parts, "nothing on stderr"
    return parts[-1]


def train(capsys, *argv: str) -> tuple[int, dict, str]:
    code, out, err = run(capsys, "train", *FAST, *argv)
    assert code == 0, err
    return code, last_json(out), err


# -- listings -------------------------------------------------------------------------------------
def test_datasets_lists_every_builtin_set(capsys):
    code, out, err = run(capsys, "datasets")
    assert code == 0 and not err
    starts = {line.split()[0] for line in out.splitlines() if line and not line[0].isspace()}
    assert set(datasets.available()) <= starts
    assert "digits" in out.splitlines()[0]
    assert "patch_size=8" in out  # a set's own options are listed under it
    assert ".npy" in out  # paths work too


def test_models_lists_each_model_with_its_parameters_and_defaults(capsys):
    code, out, err = run(capsys, "models")
    assert code == 0 and not err
    lines = out.splitlines()
    for name in models.available():
        index = next(i for i, line in enumerate(lines) if line.split()[0] == name)
        assert models.describe(name) in lines[index]
        params = lines[index + 1]
        for key, default in models.default_params(name).items():
            assert f"{key}={default!r}" in params, (name, key)
    assert "k=8" in lines[lines.index(next(x for x in lines if x.startswith("sae-topk "))) + 1]


def test_help_and_no_command(capsys):
    assert run(capsys, "--help")[0] == 0
    code, out, err = run(capsys)
    assert code == 2 and not out
    assert err.count("\n") == 1 and err.startswith("error: ") and "--help" in err


# -- train ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("model, extra", [
    ("pca", ["--n-components", "8"]),
    ("nmf", ["--n-components", "8", "--max-steps", "20"]),
    ("sae-topk", ["--n-components", "32", "--k", "4", "--max-steps", "30"]),
    ("linear-ae", ["--n-components", "8", "--max-steps", "30"]),
])
def test_train_prints_sane_metrics_as_the_last_json_line(capsys, model, extra):
    _, summary, err = train(capsys, "--model", model, *extra)
    assert REQUIRED_KEYS <= set(summary)
    n_components = int(extra[1])
    assert summary["model"] == model and summary["data"] == "digits"
    assert (summary["n_samples"], summary["n_features"], summary["n_components"]) == (300, 64, n_components)
    assert summary["device"] == "cpu" and summary["diverged"] is False
    for key in ("mse", "fvu", "l0", "dead_fraction", "pca_mse", "seconds"):
        assert isinstance(summary[key], (int, float)) and math.isfinite(summary[key]), key
    assert 0 < summary["pca_mse"] and 0 < summary["fvu"] < 1.5
    assert 0 <= summary["dead_fraction"] <= 1 and 0 <= summary["l0"] <= n_components
    # every model reconstructs from an affine rank-r set: never below the rank-matched PCA error
    assert summary["mse"] >= summary["pca_mse"] * (1 - 1e-4)
    if model == "pca":
        assert summary["mse"] == pytest.approx(summary["pca_mse"], rel=1e-4)
        assert summary["l0"] == n_components
    else:
        assert "100%" in err  # the tqdm bar went to stderr
    if model == "sae-topk":
        assert summary["l0"] == 4 and summary["dead_fraction"] < 1


def test_same_seed_same_result_and_another_seed_differs(capsys):
    argv = ["--model", "sae-topk", "--n-components", "16", "--k", "3", "--max-steps", "20", "--quiet"]
    first = train(capsys, *argv, "--seed", "3")[1]
    again = train(capsys, *argv, "--seed", "3")[1]
    other = train(capsys, *argv, "--seed", "4")[1]
    first.pop("seconds"), again.pop("seconds"), other.pop("seconds")
    assert first == again
    assert other["mse"] != first["mse"]


def test_set_values_are_typed(capsys, tmp_path):
    assert cli._key_value("n-components=8") == ("n_components", 8)
    assert cli._key_value("learning_rate=1e-3") == ("learning_rate", 0.001)
    assert cli._key_value("tied=true") == ("tied", True) and cli._key_value("tied=False") == ("tied", False)
    assert cli._key_value("auxk=None") == ("auxk", None)
    assert cli._key_value("activation=relu") == ("activation", "relu")
    assert cli._key_value("image_shape=[8, 8]") == ("image_shape", [8, 8])
    out = tmp_path / "run"
    train(capsys, "--model", "ae", "--max-steps", "10", "--quiet", "--out", str(out),
          "--set", "activation=relu", "--set", "tied=True", "--set", "learning_rate=1e-2",
          "--set", "batch_size=64.0", "--set", "n_components=6")
    params = json.loads((out / checkpoint.CONFIG_FILE).read_text())["params"]
    assert params["activation"] == "relu" and params["tied"] is True
    assert params["learning_rate"] == 0.01 and params["batch_size"] == 64 and isinstance(params["batch_size"], int)
    assert params["n_components"] == 6 and params["random_state"] == 0 and params["device"] == "cpu"


def test_out_holds_weights_config_metrics_history_and_atoms(capsys, tmp_path):
    out = tmp_path / "nested" / "run"
    _, summary, err = train(capsys, "--model", "sae-topk", "--n-components", "16", "--k", "3",
                            "--max-steps", "30", "--quiet", "--out", str(out))
    assert f"wrote {out}" in err
    assert {p.name for p in out.iterdir()} == set(cli.OUT_FILES)
    # the weights load back and give the metrics the run reported
    model, config = checkpoint.load(out, return_config=True)
    assert config["model"] == "sae-topk" and config["data"] == "digits" and config["image_shape"] == [8, 8]
    X = datasets.load("digits", n_samples=300, seed=0).X
    codes = model.transform(X)
    assert codes.shape == (300, 16) and metrics.l0(codes) == 3
    assert metrics.evaluate(model, X, codes)["mse"] == pytest.approx(summary["mse"], rel=1e-5)
    saved = json.loads((out / "metrics.json").read_text())
    assert {k: saved[k] for k in summary} == summary and saved["steps"] == 30 and saved["error"] is None
    with Image.open(out / "atoms.png") as image:
        assert image.format == "PNG" and image.size == render.grid_size(16, (8, 8))
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert [int(r["step"]) for r in rows] == [10, 20, 30]
    assert all(math.isfinite(float(r["loss"])) and float(r["mse"]) > 0 for r in rows)
    # a second run into the same folder replaces the files
    train(capsys, "--model", "pca", "--n-components", "4", "--out", str(out))
    assert checkpoint.load(out).components_.shape == (4, 64)


def test_a_npy_path_as_data(capsys, tmp_path):
    path = tmp_path / "mine.npy"
    np.save(path, np.random.default_rng(0).random((120, 16), dtype=np.float32))
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", "--data", str(path), "--model", "nmf", "--n-components", "4",
                            "--max-steps", "10", "--device", "cpu", "--out", str(out))
    assert code == 0, err
    summary = last_json(stdout)
    assert (summary["data"], summary["n_samples"], summary["n_features"]) == ("mine.npy", 120, 16)
    with Image.open(out / "atoms.png") as image:  # 16 features: 4x4 tiles, inferred
        assert image.size == render.grid_size(4, (4, 4))


# -- bad input: one line on stderr, status 2, never a traceback ----------------------------------
@pytest.fixture
def bad_files(tmp_path):
    rng = np.random.default_rng(0)
    nan = rng.random((40, 16), dtype=np.float32)
    nan[3, 5] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "signed.npy", rng.standard_normal((40, 16)).astype(np.float32))
    (tmp_path / "a-file").write_text("not a folder")
    return tmp_path


BAD = {
    "unknown model": (["--data", "digits", "--model", "nope"], ["Unknown model 'nope'", "Available models", "pca"]),
    "unknown data set": (["--data", "nope", "--model", "pca"], ["Unknown data set 'nope'", "digits", ".npy"]),
    "missing file": (["--data", "{tmp}/missing.npy", "--model", "pca"], ["not found", "missing.npy"]),
    "bad --set syntax": (["--data", "digits", "--model", "pca", "--set", "whiten"],
                         ["--set", "expected name=value", "'whiten'", "--help"]),
    "unknown --set param": (["--data", "digits", "--model", "pca", "--set", "colour=red"],
                            ["has no parameter 'colour'", "n_components", "python -m core models"]),
    "--set of the wrong type": (["--data", "digits", "--model", "linear-ae", "--set", "n_components=many"],
                                ["n_components", "an integer", "--set n_components=16"]),
    "--set bool": (["--data", "digits", "--model", "linear-ae", "--set", "tied=maybe"], ["tied", "true or false"]),
    "negative data for nmf": (["--data", "{tmp}/signed.npy", "--model", "nmf"],
                              ["nmf needs non-negative data", "signed.npy", "scale=minmax"]),
    "nan in the data file": (["--data", "{tmp}/nan.npy", "--model", "pca"], ["NaN", "row 3", "column 5"]),
    "--k without k": (["--data", "digits", "--model", "pca", "--k", "3"],
                      ["--k does not apply to model 'pca'", "sae-topk"]),
    "--max-steps without steps": (["--data", "digits", "--model", "pca", "--max-steps", "3"], ["--max-steps", "pca"]),
    "--out is a file": (["--data", "digits", "--model", "pca", "--out", "{tmp}/a-file"],
                        ["--out", "a-file", "not a folder"]),
    "--out under a file": (["--data", "digits", "--model", "pca", "--out", "{tmp}/a-file/run"],
                           ["cannot write to --out", "choose a folder"]),
    "missing --data": (["--model", "pca"], ["--data", "required", "--help"]),
    "bad --n-components": (["--data", "digits", "--model", "pca", "--n-components", "lots"],
                           ["--n-components", "invalid int value"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_prints_one_line_and_exits_2(capsys, bad_files, case):
    argv, expected = BAD[case]
    code, out, err = run(capsys, "train", *(a.replace("{tmp}", str(bad_files)) for a in argv))
    assert code == 2
    assert not out and "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line, no usage block
    for text in expected:
        assert text in err, (text, err)
    assert not (bad_files / "a-file" / "run").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu(capsys):
    code, out, err = run(capsys, "train", "--data", "digits", "--model", "pca", "--device", "cuda")
    assert code == 2 and "no CUDA GPU" in err and "device='cpu'" in err


def test_a_fit_that_refuses_its_parameters_erases_the_bar_and_leaves_no_folder(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", *FAST, "--model", "linear-ae", "--n-components", "0",
                            "--max-steps", "5", "--out", str(out))
    assert code == 2 and not stdout and "Traceback" not in err
    assert error_line(err) == "error: n_components must be at least 1, got 0."
    assert not out.exists()


def test_an_unexpected_error_is_one_line_with_status_1(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError("boom")

    monkeypatch.setattr(core.models, "create", broken)
    monkeypatch.delenv("SAE_EXPLORER_DEBUG", raising=False)
    code, out, err = run(capsys, "train", "--data", "digits", "--model", "pca")
    assert code == 1 and err.count("\n") == 1
    assert "unexpected TypeError: boom" in err and "SAE_EXPLORER_DEBUG=1" in err


# -- a diverging run: status 3, the JSON says so, --out keeps the last good weights ----------------
def test_a_diverging_run_keeps_its_last_good_weights(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", "--data", "digits", "--device", "cpu", "--model", "linear-ae",
                            "--max-steps", "50", "--quiet", "--out", str(out),
                            "--set", "learning_rate=1e8", "--set", "log_every=1")
    assert code == cli.EXIT_DIVERGED == 3 and "Traceback" not in err
    assert last_json(stdout)["diverged"] is True
    message = error_line(err)
    assert message.startswith("error: Training diverged at step") and "Lower the learning rate" in message
    model = checkpoint.load(out)
    assert all(np.isfinite(w).all() for w in model.get_weights().values())
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["diverged"] is True and "diverged" in saved["error"]
    steps = [int(r["step"]) for r in csv.DictReader((out / "history.csv").open())]
    assert steps and steps == list(range(1, len(steps) + 1)) and len(steps) < 50


def test_a_run_that_diverges_at_once_says_what_it_kept(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", "--data", "digits", "--device", "cpu", "--model", "linear-ae",
                            "--max-steps", "30", "--quiet", "--out", str(out), "--set", "learning_rate=1e10")
    assert code == 3 and last_json(stdout)["diverged"] is True
    assert (out / "metrics.json").exists() and (out / "history.csv").exists()
    if (out / checkpoint.WEIGHTS_FILE).exists():  # the weights written are finite, whatever the model kept
        assert all(np.isfinite(w).all() for w in checkpoint.load(out).get_weights().values())
    else:
        assert "No finite weights were left to keep" in error_line(err)


# -- the real entry point ---------------------------------------------------------------------------
def _python_m_core(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("SAE_EXPLORER_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "core", *argv], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def test_python_m_core_train_subprocess(tmp_path):
    out = tmp_path / "run"
    done = _python_m_core("train", *FAST, "--model", "nmf", "--n-components", "6", "--max-steps", "20",
                          "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert REQUIRED_KEYS <= set(summary) and summary["model"] == "nmf" and summary["n_samples"] == 300
    assert summary["mse"] >= summary["pca_mse"] > 0
    assert "100%" in done.stderr and f"wrote {out}" in done.stderr
    assert (out / checkpoint.WEIGHTS_FILE).is_file() and (out / "atoms.png").is_file()


def test_python_m_core_bad_input_subprocess():
    done = _python_m_core("train", "--data", "digits", "--model", "sae-topk", "--set", "k=eight")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: --set k='eight': 'sae-topk' takes an integer for k")


def test_device_memory_of_the_cpu_is_the_machines_memory():
    total, where = core.device.device_memory("cpu")
    assert where == "this machine's memory"
    assert 2**28 < total < 2**50  # between 256 MiB and 1 PiB: a real figure, not a placeholder
