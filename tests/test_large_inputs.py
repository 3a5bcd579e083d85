"""Very large inputs (issue 16): the run's cost is estimated before it starts (core.budget), pictures stay
bounded (core.render), and the command line refuses in one line what does not fit or is slow."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core import budget, cli, datasets, models, render

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_limits_from_the_environment(monkeypatch):
    monkeypatch.delenv(budget.MEMORY_ENV, raising=False)
    monkeypatch.delenv(budget.SLOW_ENV, raising=False)


# -- the estimate --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_atoms", [64, 256])
def test_a_million_feature_sae_is_refused_on_a_small_limit_naming_the_limit_and_the_fix(monkeypatch, n_atoms):
    monkeypatch.setenv(budget.MEMORY_ENV, "2G")
    cost = budget.estimate(4, 1_000_000, n_atoms, "sae-topk", max_steps=2000, device="cpu")
    assert not cost.fits and cost.memory_bytes > 2 * budget.GIB
    message = cost.refusal()
    assert "2.0 GiB" in message and "SAE_EXPLORER_RUN_MEMORY=2G" in message  # the limit and where it comes from
    assert f"at most {cost.most_atoms:,} fit" in message and 1 <= cost.most_atoms < n_atoms
    assert "crop" in message  # the other fix (a sample of 4 rows would not help: the atoms weigh)
    fewer = budget.estimate(4, 1_000_000, cost.most_atoms, "sae-topk", max_steps=2000, device="cpu")
    assert fewer.fits  # the number offered does fit


def test_a_run_that_fits_but_takes_minutes_before_its_first_metrics_is_slow(monkeypatch):
    monkeypatch.setenv(budget.MEMORY_ENV, "100G")
    cost = budget.estimate(4, 1_000_000, 64, "sae-topk", max_steps=2000, device="cpu")
    assert cost.fits and cost.slow and cost.refusal() is None
    assert cost.first_feedback_seconds > budget.SLOW_FIRST_FEEDBACK
    assert "slow" in cost.warning() and "Fewer atoms" in cost.warning()


def test_ordinary_runs_are_neither_refused_nor_slow():
    for name in ("sae-topk", "sae-l1", "ae", "nmf", "pca"):
        model = models.create(name, n_components=32 if name != "pca" else 16, device="cpu")
        cost = budget.estimate_model(model, 1797, 64, name)
        assert cost.fits and not cost.slow, (name, cost.summary())


def test_the_default_limit_is_a_share_of_the_memory_available_now():
    limit, source = budget.memory_limit("cpu")
    assert limit == pytest.approx(budget.MEMORY_SHARE * budget.available_memory(), rel=0.05)
    assert 2**26 < limit < 2**50 and "available" in source


def test_a_gpus_limit_is_its_free_memory(monkeypatch):
    """65536 latents on 4096 features fit a GPU with 80 GiB free, not one with 4 GiB free (which gets the
    largest number that fits)."""
    model = models.create("sae-topk", n_components=65536, k=64, device="cpu")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (80 * budget.GIB, 80 * budget.GIB))
    assert budget.estimate(2, 4096, 65536, "sae-topk", device="cuda").fits
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (4 * budget.GIB, 80 * budget.GIB))
    cost = budget.estimate(2, 4096, 65536, "sae-topk", device="cuda")
    assert not cost.fits and "of the GPU memory free now" in cost.refusal() and 0 < cost.most_atoms < 65536
    assert model.get_params()["n_components"] == 65536


def test_a_bad_limit_setting_is_named(monkeypatch):
    monkeypatch.setenv(budget.MEMORY_ENV, "lots")
    with pytest.raises(ValueError, match="SAE_EXPLORER_RUN_MEMORY='lots'.*3G"):
        budget.memory_limit("cpu")
    assert budget.parse_size("512M") == 512 * budget.MIB and budget.parse_size("3000") == 3000 * budget.MIB


# -- bounded pictures -------------------------------------------------------------------------------------
def _opens_without_bomb_warning(picture: Image.Image) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        Image.open(io.BytesIO(render.png_bytes(picture))).load()


def test_million_feature_atoms_draw_as_a_bounded_strip_each():
    atoms = np.zeros((16, 1_000_000), np.float32)
    atoms[3, 500_000] = 1.0  # one strong feature must stay visible after pooling
    picture = render.atom_grid(atoms, None)
    assert picture.width * picture.height <= render.MAX_PICTURE_PIXELS
    assert picture.size == render.grid_size(16, None, n_features=1_000_000)
    _opens_without_bomb_warning(picture)
    row = np.asarray(picture)[3 * (render.strip_height(4) + 1) + 1]  # strips a pixel apart
    assert (row == (178, 24, 43)).all(axis=1).sum() >= 1  # the spike, red, in atom 3's strip
    assert all(tile.width <= render.MAX_STRIP_CELLS * 4 for tile in render.tile_images(atoms[:2], None))


def test_huge_image_atoms_are_shrunk_and_many_atoms_lower_the_scale():
    big = np.random.default_rng(0).random((3, 2000 * 1500), dtype=np.float32)
    picture = render.atom_grid(big, (2000, 1500), scale=8)
    assert picture.size == render.grid_size(3, (2000, 1500), scale=8)
    assert picture.width * picture.height <= render.MAX_PICTURE_PIXELS
    many = render.atom_grid(np.ones((4096, 28 * 28), np.float32), (28, 28), scale=16)
    assert many.width * many.height <= render.MAX_PICTURE_PIXELS
    _opens_without_bomb_warning(many)


# -- the command line -------------------------------------------------------------------------------------
def _wide_file(tmp_path: Path, n_features: int = 20_000) -> Path:
    path = tmp_path / "wide.npy"
    np.save(path, np.random.default_rng(0).random((4, n_features), dtype=np.float32))
    return path


def test_the_cli_refuses_a_run_over_the_memory_limit_in_one_line(tmp_path):
    """The 4 x 1,000,000 case, made small: 4 x 20,000 under a 350 MiB limit takes the same path."""
    done = subprocess.run([sys.executable, "-m", "core", "train", "--data", str(_wide_file(tmp_path)),
                           "--model", "sae-topk", "--max-steps", "10"], cwd=ROOT, capture_output=True, text=True,
                          env={**_env(), budget.MEMORY_ENV: "350"}, timeout=120)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: 64 atoms (n_components) on 4 samples")
    assert "limit of 350 MiB" in done.stderr and "at most 31 fit" in done.stderr and "crop" in done.stderr


def test_the_cli_asks_for_yes_before_a_slow_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(budget.SLOW_ENV, "0.000001")
    argv = ["train", "--data", str(_wide_file(tmp_path, 64)), "--model", "sae-topk", "--n-components", "8",
            "--max-steps", "3", "--quiet"]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "will be slow" in captured.err and "Pass --yes to train anyway." in captured.err
    assert cli.main([*argv, "--yes"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.splitlines()[-1])["n_features"] == 64 and "note:" in captured.err


@pytest.mark.parametrize("name, n_atoms", [("swimmer", 17), ("bars", 16), ("sparse-synthetic", 32)])
def test_data_sets_with_known_atoms_add_mmcs_to_the_json_line(name, n_atoms, capsys):
    assert cli.main(["train", "--data", name, "--model", "nmf", "--n-components", str(n_atoms),
                     "--max-steps", "20", "--quiet", "--data-option", "scale=minmax"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    truth = datasets.load(name, scale="minmax").truth
    assert 0 < summary["mmcs"] <= 1.0 + 1e-6 and truth.shape[0] == summary["n_components"] or name == "sparse-synthetic"


def test_data_without_known_atoms_has_no_mmcs(capsys):
    assert cli.main(["train", "--data", "digits", "--model", "pca", "--n-components", "8", "--quiet"]) == 0
    assert "mmcs" not in json.loads(capsys.readouterr().out.splitlines()[-1])


def _env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key not in (budget.MEMORY_ENV, budget.SLOW_ENV)}


# -- a long start says what it is doing ----------------------------------------------------------------------
class _Phases:
    def __init__(self):
        self.phases = []

    def row(self, row): ...
    def atoms(self, atoms): ...
    def reference(self, mse): ...

    def phase(self, words):
        self.phases.append(words)


def test_a_run_reports_its_start_phases_and_the_snapshot_carries_them():
    from core.jobs import RUNNING, TrainingJob
    from core.jobs.fit import FIRST_STEPS, LOADING, PCA_REFERENCE, run_fit
    from core.training import TrainControl

    X = np.random.default_rng(0).random((64, 16), dtype=np.float32)
    sink = _Phases()
    state, error, _ = run_fit(models.create("sae-topk", n_components=8, k=2, max_steps=20, device="cpu"), X,
                              TrainControl(), sink)
    assert state == "done" and error is None
    assert sink.phases == [FIRST_STEPS, PCA_REFERENCE, None, None]  # then training, then the end

    class _IdleWorker:  # takes the job and runs nothing: the job waits for its data to arrive
        def run(self, job): ...

    job = TrainingJob(models.create("sae-topk", n_components=8, k=2, device="cpu"), X)
    assert job.snapshot().phase is None  # waiting for a slot: its place in line says enough
    job.start(_IdleWorker())
    assert job.state == RUNNING and job.snapshot().phase == LOADING
    job.phase(PCA_REFERENCE)
    assert job.snapshot().phase == PCA_REFERENCE


# -- the pages --------------------------------------------------------------------------------------------
def test_the_train_page_refuses_a_run_over_the_limit_and_asks_before_a_slow_one(monkeypatch):
    from tests.app_support import app_state, messages, open_page, stop_job

    monkeypatch.setenv(budget.MEMORY_ENV, "100")  # MiB: below what any run needs
    at = open_page("views/train.py")
    try:
        at.selectbox(key="train:model").set_value("sae-topk").run()
        at.button[0].click().run()  # Train
        assert not at.exception and app_state(at).job is None
        assert "is too large" in messages(at) and "SAE_EXPLORER_RUN_MEMORY=100" in messages(at)

        monkeypatch.delenv(budget.MEMORY_ENV)
        monkeypatch.setenv(budget.SLOW_ENV, "0.000001")  # every run is slow
        at.select_slider(key="param:sae-topk:max_steps").set_value(50).run()
        at.button[0].click().run()
        assert not at.exception and not at.error and app_state(at).job is None  # not started: asked first
        assert any("will be slow" in str(w.value) for w in at.warning)
        at.button(key="train:anyway").click().run()
        job = app_state(at).job
        assert job is not None and job.wait(60) and job.state == "done", job.snapshot().error
        at.run()
        assert not any("will be slow" in str(w.value) for w in at.warning)  # answered: the question is gone
    finally:
        stop_job(at)


def test_the_data_page_says_before_training_that_a_run_would_not_fit(monkeypatch):
    from tests.app_support import open_page

    monkeypatch.setenv(budget.MEMORY_ENV, "100")
    at = open_page("views/data.py")
    assert not at.exception
    assert any("Too large to train here as set" in str(e.value) and "100 MiB" in str(e.value) for e in at.error)


def test_tabs_uploading_the_same_million_feature_file_share_one_copy_and_its_preview_is_drawn():
    from tests.app_support import app_state, elements, open_page

    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(0).random((4, 1_000_000), dtype=np.float32))
    tabs = [open_page("views/data.py"), open_page("views/data.py")]
    for at in tabs:
        at.selectbox(key="data:name").set_value("Upload a file ...").run()
        at.file_uploader(key="data:upload").set_value(("big.npy", buffer.getvalue(), "application/octet-stream")).run()
        assert not at.exception and not at.error
    first, second = (app_state(at).dataset for at in tabs)
    assert first.n_features == 1_000_000 and first is second  # one copy on the server, not one per tab
    assert elements(tabs[0], "image")  # its samples are drawn (no DecompressionBombError), bounded by core.render


def test_compare_and_sweep_refuse_runs_over_the_limit_before_training(monkeypatch):
    """The estimate guards every page that starts runs, not only Train: a side-by-side pair or a sweep
    over the memory limit is refused with core.budget's message (the limit and the fix), and nothing starts."""
    from tests.app_support import open_page

    monkeypatch.setenv(budget.MEMORY_ENV, "100")  # MiB: below what any run needs
    at = open_page("views/compare.py")
    at.button(key="compare:train").click().run()
    assert not at.exception and not at.session_state["_compare_page"].jobs
    assert any("is too large" in e.value and "SAE_EXPLORER_RUN_MEMORY" in e.value for e in at.error)

    at.switch_page("views/sweep.py").run()
    at.button(key="sweep:start").click().run()
    assert not at.exception
    assert any("is too large" in e.value and "SAE_EXPLORER_RUN_MEMORY" in e.value for e in at.error)
    assert at.session_state["_sweep_page"].job is None
