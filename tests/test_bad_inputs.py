"""The bad-input corpus (tests/bad_inputs) through every door: the loader (bytes and paths), the command
line (in-process for all, and a few real ``python -m core`` subprocesses), the Data page's upload widget
and the Train page (AppTest). Each bad input gets core's one clear message; nothing is ever unpickled;
the app stays up and keeps the data set chosen before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app_support import app_state, messages, open_page, stop_job
from bad_inputs import CHECKPOINTS, FILES, MARKER, PARAMS, npy
from core import checkpoint, cli, datasets

REPO = Path(__file__).resolve().parents[1]
FAST = ["--device", "cpu", "--quiet"]


@pytest.fixture(autouse=True)
def nothing_is_unpickled():
    MARKER.unlink(missing_ok=True)
    yield
    assert not MARKER.exists(), "a pickle payload of the corpus was unpickled"


def test_the_corpus_covers_every_kind_of_bad_input_the_issue_names():
    kinds = {case.kind for case in FILES.values()}
    assert {"empty", "truncated", "non-image", "zip", "huge", "bomb", "nan", "pickle", "negative", "one sample",
            "one feature", "image_shape", "escape"} <= kinds
    assert len(FILES) >= 25 and len(PARAMS) >= 5 and len(CHECKPOINTS) >= 4
    assert {"k > n_components", "learning rate 1e6", "zero steps"} <= set(PARAMS)
    assert sum(case.uploadable for case in FILES.values()) >= 25


# -- the loader ----------------------------------------------------------------------------------------------
def _expect_error(case, load) -> str:
    with pytest.raises(datasets.DatasetError) as caught:  # any other exception type fails the test
        load()
    message = str(caught.value)
    for word in case.expect:
        assert word in message, (word, message)
    assert "Traceback" not in message and len(message) < 600
    return message


@pytest.mark.parametrize("name", list(FILES))
def test_the_loader_gives_one_clear_error_or_a_clean_matrix(name, tmp_path):
    case = FILES[name]
    path = tmp_path / case.filename
    path.write_bytes(case.data)
    loads = (lambda: datasets.load_bytes(case.data, case.filename, **case.options),
             lambda: datasets.load(path, **case.options))
    for load in loads:
        if case.expect is not None:
            _expect_error(case, load)
            continue
        ds = load()
        assert ds.X.dtype == np.float32 and ds.X.ndim == 2 and np.isfinite(ds.X).all()
        if case.check is not None:
            case.check(ds)


def test_a_lying_zip_bomb_stops_at_its_declared_size_without_inflating_it(monkeypatch):
    """The member says 1 KiB and inflates to 64 MiB: inflating stops within a chunk of the declared size (the
    bytes out of zipfile's decompressor, counted), and memory never holds the inflated member."""
    import tracemalloc
    import zipfile

    inflated = []

    class CountingDecompressor:
        def __init__(self, inner):
            self.inner = inner

        def decompress(self, data, max_length=0):
            out = self.inner.decompress(data, max_length)
            inflated.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.inner, name)

    real_decompressor = zipfile._get_decompressor
    monkeypatch.setattr(zipfile, "_get_decompressor", lambda kind: CountingDecompressor(real_decompressor(kind)))
    case = FILES["zip bomb (lying headers)"]
    data = case.data  # build it outside the measurement
    tracemalloc.start()
    _expect_error(case, lambda: datasets.load_bytes(data, case.filename))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert 0 < sum(inflated) <= 1 << 20, sum(inflated)  # a MiB chunk at most, of the 64 MiB
    assert peak < 16 << 20, peak  # it would inflate to 64 MiB


@pytest.mark.parametrize("name", list(CHECKPOINTS))
def test_files_that_are_not_safetensors_checkpoints_are_refused_unopened(name, tmp_path):
    make, words = CHECKPOINTS[name]
    data = make()
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    for load in (lambda: checkpoint.from_bytes(data), lambda: checkpoint.load(path)):
        with pytest.raises(checkpoint.CheckpointError) as caught:
            load()
        for word in words:
            assert word in str(caught.value), (word, str(caught.value))


# -- the command line ------------------------------------------------------------------------------------------
def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code: int, out: str, err: str, status: int, words) -> None:
    assert code == status, (code, err)
    assert "Traceback" not in err and "Traceback" not in out
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("error: "), err
    for word in words:
        assert word in last, (word, last)


@pytest.mark.parametrize("name", list(FILES))
def test_the_cli_reports_each_bad_file_in_one_line(name, tmp_path, capsys):
    case = FILES[name]
    path = tmp_path / case.filename
    path.write_bytes(case.data)
    model = ["--model", "nmf", "--max-steps", "5"] if case.kind == "negative" else ["--model", "pca", "--n-components", "1"]
    code, out, err = _cli(capsys, "train", "--data", str(path), *model, *FAST, *case.cli_options())
    if case.kind == "negative":
        _assert_one_line_error(code, out, err, 2, ["needs non-negative data", "scale=minmax"])
    elif case.expect is None:
        assert code == 0, err
        assert json.loads(out.strip().splitlines()[-1])["n_samples"] >= 2
    else:
        _assert_one_line_error(code, out, err, 2, case.expect)
        assert out == ""


@pytest.mark.parametrize("name", list(PARAMS))
def test_the_cli_refuses_absurd_hyperparameters_in_one_line(name, capsys):
    argv, status, words = PARAMS[name]
    code, out, err = _cli(capsys, "train", "--data", "digits", "--n-samples", "200", *FAST, *argv)
    _assert_one_line_error(code, out, err, status, words)
    if status == cli.EXIT_DIVERGED:  # a diverged run still prints its metrics, flagged
        assert json.loads(out.strip().splitlines()[-1])["diverged"] is True
    else:
        assert out == ""


def test_the_cli_refuses_a_pickled_checkpoint_given_as_data(tmp_path, capsys):
    path = tmp_path / "model.pt"
    path.write_bytes(CHECKPOINTS["torch.save pickle (zip)"][0]())
    code, out, err = _cli(capsys, "train", "--data", str(path), "--model", "pca", *FAST)
    _assert_one_line_error(code, out, err, 2, ["unsupported file type '.pt'"])


@pytest.mark.parametrize("name, extra, status", [
    ("object npy", [], 2),
    ("zip bomb (declared size)", [], 2),
    ("learning rate 1e6", PARAMS["learning rate 1e6"][0], 3),
])
def test_the_real_entry_point_prints_no_traceback(name, extra, status, tmp_path):
    if name in FILES:
        path = tmp_path / FILES[name].filename
        path.write_bytes(FILES[name].data)
        argv = ["--data", str(path), "--model", "pca"]
        words = FILES[name].expect
    else:
        argv = ["--data", "digits", "--n-samples", "200", *extra]
        words = PARAMS[name][2]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("SAE_EXPLORER_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "core", "train", *argv, *FAST], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    _assert_one_line_error(done.returncode, done.stdout, done.stderr, status, words)
    assert done.stderr.count("\n") == 1, done.stderr


# -- the upload widget (AppTest on the Data page) -----------------------------------------------------------------
GOOD = ("good.npy", npy(np.random.default_rng(1).random((30, 16))))


def _upload(at, filename: str, data: bytes):
    at.file_uploader(key="data:upload").set_value((filename, data, "application/octet-stream")).run()
    return at


def _assert_good_upload_kept(at) -> None:
    state = app_state(at)
    assert state.data.upload == GOOD[0] and state.dataset is not None and state.dataset.name == GOOD[0]
    assert {m.label: m.value for m in at.metric}["Samples"] == "30"  # its preview is still drawn


def _upload_cases(half: int) -> list[str]:
    names = [name for name, case in FILES.items() if case.uploadable]
    return names[half::2]


@pytest.mark.parametrize("half", [0, 1])
def test_bad_uploads_show_cores_message_and_keep_the_previous_upload(half):
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("Upload a file ...").run()
    _upload(at, *GOOD)
    assert not at.exception and not at.error
    _assert_good_upload_kept(at)
    failures = []
    for name in _upload_cases(half):
        case = FILES[name]
        if case.options:  # the page's own widgets carry image_shape / key / n_samples
            continue
        _upload(at, case.filename, case.data)
        try:
            assert not at.exception, at.exception
            if case.expect is None:
                assert app_state(at).data.upload == case.filename and not at.error
                _upload(at, *GOOD)
                assert not at.error
            else:
                shown = messages(at)
                assert all(word in shown for word in case.expect), shown
            _assert_good_upload_kept(at)
        except AssertionError as error:
            failures.append(f"{name}: {error}")
    assert not failures, "\n".join(failures)


def test_upload_options_from_the_page_reach_the_loader_and_errors_keep_the_built_in_choice():
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("swimmer").run()
    assert app_state(at).dataset.name == "swimmer"
    at.selectbox(key="data:name").set_value("Upload a file ...").run()
    at.number_input(key="data:upload:h").set_value(5).run()
    at.number_input(key="data:upload:w").set_value(5).run()
    case = FILES["wrong image_shape"]
    _upload(at, case.filename, case.data)
    assert not at.exception and "holds 25 pixels" in messages(at)
    at.text_input(key="data:upload:key").set_value("X").run()
    _upload(at, "keys.npz", FILES["npz with a missing key"].data)
    assert not at.exception and "no array named 'X'" in messages(at)
    assert app_state(at).data.name == "swimmer" and app_state(at).dataset.name == "swimmer"
    at.switch_page("views/train.py").run()  # the Train page still trains on swimmer
    assert not at.exception
    sidebar = " ".join(str(getattr(e, "value", "")) for e in at.sidebar)
    assert "swimmer" in sidebar


def test_the_train_page_refuses_k_above_n_components_and_stays_up():
    at = open_page("views/train.py")
    try:
        at.selectbox(key="train:model").set_value("sae-topk").run()
        at.slider(key="param:sae-topk:n_components").set_value(2).run()
        at.slider(key="param:sae-topk:k").set_value(8).run()
        at.button[0].click().run()  # Train
        assert not at.exception
        assert "k=8 is larger than n_components=2" in messages(at)
        job = app_state(at).job  # refused when created, or when its fit starts
        assert job is None or (job.wait(30) and job.state == "failed")
        at.slider(key="param:sae-topk:k").set_value(1).run()
        at.select_slider(key="param:sae-topk:max_steps").set_value(50).run()
        at.button[0].click().run()
        job = app_state(at).job
        assert job is not None and job.wait(60) and job.state == "done", job.snapshot().error
    finally:
        stop_job(at)
