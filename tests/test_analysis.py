"""core.analysis: hand-checked geometry, decompositions, recognition, pairing, tables, and the background
helpers (saving a training job, a sweep job) on tiny problems."""

from __future__ import annotations

import io
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser_support import wait_until
from core import analysis, models, render
from core.jobs import TrainingJob, saving
from core.jobs import sweep as sweep_jobs
from core.store import RunStore
from ui import typed_input


# -- geometry ---------------------------------------------------------------------------------------------
def test_principal_angles_by_hand():
    e1, e2, e3 = np.eye(3)
    assert analysis.principal_angles([e1], [(e1 + e2) / math.sqrt(2)]) == pytest.approx([45.0])
    assert analysis.principal_angles([e1, e2], [e2, e3]) == pytest.approx([0.0, 90.0], abs=1e-6)
    # the span, not the vectors: a scaled, mixed basis of the same plane is at angle 0
    assert analysis.subspace_angle([e1, e2], [3 * e1 + e2, e1 - 2 * e2]) == pytest.approx(0.0, abs=1e-5)
    assert analysis.subspace_angle([e1], [e3]) == pytest.approx(90.0)


def test_pc_angles_measure_each_component_against_the_span():
    e1, e2, e3 = np.eye(3)
    angles = analysis.pc_angles([e1, e2], [e1, (e2 + e3) / math.sqrt(2), e3])
    assert angles == pytest.approx([0.0, 45.0, 90.0], abs=1e-6)


def test_top_principal_components_of_a_stretched_cloud():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3)) * [10.0, 3.0, 0.1]
    pcs = analysis.top_principal_components(X, 2)
    assert np.abs(pcs) == pytest.approx(np.eye(3)[:2], abs=0.05)


def test_subspace_trace_of_a_linear_ae_approaches_the_principal_subspace():
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(400, 8)) * [5, 4, 3, 0.3, 0.3, 0.3, 0.3, 0.3]).astype(np.float32)
    model = models.create("linear-ae", n_components=3, max_steps=300, learning_rate=0.01, random_state=0,
                          log_every=20, device="cpu")
    trace = analysis.subspace_trace(model, X)
    assert trace.steps.tolist() == list(range(20, 301, 20))
    assert trace.pc_angles.shape == (15, 3) and trace.n_components == 3
    assert trace.angle[-1] < 15 < trace.angle[0]  # it learns the top-3 subspace
    assert np.all(trace.angle >= trace.pc_angles.max(axis=1) - 1e-6)  # the largest angle bounds each PC's
    with pytest.raises(ValueError, match="closed form"):
        analysis.subspace_trace(models.create("pca", n_components=2), X)


# -- a sample as mean + weighted atoms ----------------------------------------------------------------------
def test_decompose_sample_with_pca_is_mean_plus_weighted_axes():
    rng = np.random.default_rng(2)
    X = (rng.normal(size=(200, 4)) * [4, 2, 1, 0.5] + [1, 2, 3, 4]).astype(np.float32)
    pca = models.create("pca", n_components=4).fit(X)
    parts = analysis.decompose_sample(pca, X[0], n_top=4)
    assert parts.base == pytest.approx(X.mean(0), abs=1e-4)
    assert parts.partial[-1] == pytest.approx(X[0], abs=1e-3)  # all 4 axes: exact
    assert parts.reconstruction == pytest.approx(X[0], abs=1e-3)
    code = pca.transform(X[:1])[0]
    assert np.abs(parts.weights) == pytest.approx(np.sort(np.abs(code))[::-1], abs=1e-4)  # unit axes: weight = code
    assert np.all(np.diff(parts.errors()) <= 1e-6)  # every atom added lowers the error
    assert parts.partial.shape == (5, 4) and parts.n_active == 4


def test_decompose_sample_with_nmf_has_zero_base_and_skips_silent_atoms():
    H = np.array([[1.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0, 3.0]], dtype=np.float32)
    nmf = models.create("nmf", n_components=3)
    nmf.set_weights({"components_": H}, 4)
    base, D = analysis.effective_atoms(nmf)
    assert base == pytest.approx(np.zeros(4)) and D == pytest.approx(H)
    parts = analysis.decompose_sample(nmf, np.array([0.0, 4.0, 0.0, 1.5], dtype=np.float32), n_top=3)
    assert parts.indices.tolist() == [1, 2]  # weights 4 (= 2 x norm 2) and 1.5; atom 0 is silent
    assert parts.weights == pytest.approx([4.0, 1.5], abs=1e-4)
    assert parts.partial[-1] == pytest.approx([0, 4.0, 0, 1.5], abs=1e-4)


# -- recognition -------------------------------------------------------------------------------------------------
def test_split_and_nearest_neighbour_accuracy_by_hand():
    train, test = analysis.split_indices(10, 0.3, seed=0)
    assert len(test) == 3 and sorted(np.concatenate([train, test]).tolist()) == list(range(10))
    assert analysis.split_indices(10, 0.3, seed=0)[1].tolist() == test.tolist()
    train_codes = np.array([[0.0, 0], [10, 10]])
    test_codes = np.array([[1.0, 1], [9, 9], [6, 6]])
    assert analysis.nearest_neighbour_accuracy(train_codes, [0, 1], test_codes, [0, 1, 0]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="test_fraction"):
        analysis.split_indices(10, 1.5)


def test_recognition_reports_every_model_and_the_pixels():
    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 1, size=(3, 6))
    labels = np.repeat([0, 1, 2], 40)
    X = (centres[labels] + 0.02 * rng.normal(size=(120, 6))).astype(np.float32)
    rows = analysis.recognition({"PCA": models.create("pca", n_components=3),
                                 "broken": models.create("nmf", n_components=3)}, X - 0.5, labels)
    by = {r["model"]: r for r in rows}
    assert by["pixels"]["accuracy"] == 1.0 and by["PCA"]["accuracy"] == 1.0
    assert math.isnan(by["broken"]["accuracy"]) and "non-negative" in by["broken"]["note"]
    assert by["PCA"]["n_train"] + by["PCA"]["n_test"] == 120


# -- pairing and pictures -------------------------------------------------------------------------------------------
def test_pair_atoms_recovers_a_permuted_sign_flipped_copy_best_first():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(5, 16))
    B = -A[[3, 0, 4, 1, 2]]
    B[0] += 0.5 * rng.normal(size=16)  # one pair is worse than the others: it must come last
    pairs = analysis.pair_atoms(A, B)
    assert dict(zip(pairs.left.tolist(), pairs.right.tolist())) == {3: 0, 0: 1, 4: 2, 1: 3, 2: 4}
    assert pairs.similarity[:4] == pytest.approx(1.0) and pairs.similarity[-1] < 1.0
    assert pairs.left[-1] == 3 and pairs.n_pairs == 5
    uneven = analysis.pair_atoms(A, B[:3])
    assert uneven.n_pairs == 3 and sorted(uneven.left_unmatched.tolist()) == [1, 2]
    rows = uneven.table()
    assert len(rows) == 5 and rows[-1]["right atom"] is None


def test_pair_atoms_takes_the_optimal_pairing_where_greedy_pairing_differs():
    # |cos| table [[0.7, 0.65], [0.65, 0]] plus a third left atom that matches nothing: greedy pairs (0, 0)
    # and then (1, 1) at 0 (total 0.7); Hungarian crosses over at 0.65 + 0.65 and leaves atom 2 alone
    A = np.array([[0.7, 0.65, np.sqrt(1 - 0.7**2 - 0.65**2), 0.0], [0.65, 0.0, np.sqrt(1 - 0.65**2), 0.0],
                  [0.0, 0.0, 0.0, 1.0]])
    B = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    pairs = analysis.pair_atoms(A, B)
    assert dict(zip(pairs.left.tolist(), pairs.right.tolist())) == {0: 1, 1: 0}
    assert pairs.similarity.sum() == pytest.approx(1.3) and pairs.left_unmatched.tolist() == [2]


def test_comparison_image_draws_every_pair_and_the_unmatched_atoms():
    rng = np.random.default_rng(5)
    A, B = rng.uniform(size=(6, 16)), rng.uniform(size=(4, 16))
    picture = analysis.comparison_image(A, B, (4, 4), labels=("nmf", "sae"), columns=3, scale=2)
    assert picture.mode == "RGB" and picture.width >= 3 * (2 * 8 + 2)
    again = Image.open(io.BytesIO(render.png_bytes(picture)))
    assert again.size == picture.size
    strip = analysis.comparison_image(A, B, None)  # heat-map atoms work too
    assert strip.height > 6 * 12


def test_reconstruction_image_has_one_panel_per_model():
    X = np.random.default_rng(6).uniform(size=(3, 16))
    picture = analysis.reconstruction_image(X, {"a": X, "b": X * 0.5}, (4, 4), scale=2)
    assert picture.width >= 3 * (4 * 2) + 2 * 8  # three panels; a title may widen its column


# -- tables and text ---------------------------------------------------------------------------------------------------------
def test_parse_values_and_indices():
    assert typed_input.parse_values("2, 4,8", "k") == [2, 4, 8]
    assert typed_input.parse_values("1e-4:1e-2:3", "l1_coef") == pytest.approx([1e-4, 1e-3, 1e-2])
    assert typed_input.parse_values("0.05; 0.1", "sparsity_target") == [0.05, 0.1]
    for text, param, message in [("", "k", "Type the values"), ("2, x", "k", "not a number"),
                                 ("2.5", "k", "whole numbers"), ("1.5", "sparsity_target", "between 0 and 1"),
                                 ("-1", "l1_coef", "non-negative")]:
        with pytest.raises(ValueError, match=message):
            typed_input.parse_values(text, param)
    assert typed_input.parse_indices("3, 1, 3", 5) == [3, 1]
    with pytest.raises(ValueError, match="does not exist"):
        typed_input.parse_indices("9", 5)


def test_rows_to_csv_feature_table_and_top_activating():
    csv = analysis.rows_to_csv([{"a": 1, "b": None}, {"a": 2.5, "c": "x"}]).decode()
    assert csv.splitlines() == ["a,b,c", "1,,", "2.5,,x"]
    codes = np.array([[0.0, 2.0], [3.0, 0.0], [1.0, 0.0]])
    table = analysis.feature_table(codes, np.eye(2))
    assert table[0]["density"] == pytest.approx(2 / 3) and table[1]["max activation"] == 2.0
    order, values = analysis.top_activating(codes, 0, n=5)
    assert order.tolist() == [1, 2] and values.tolist() == [3.0, 1.0]  # the silent sample is left out


def test_atoms_thumbnail_is_a_small_png_of_the_first_atoms():
    import base64
    import io

    from PIL import Image

    url = analysis.atoms_thumbnail(np.eye(64)[:6], (8, 8), n=4, height=24)
    assert url.startswith("data:image/png;base64,")
    picture = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert picture.height == 24 and picture.width > 3 * picture.height  # four 8 x 8 tiles at scale 3, in a row
    strip = Image.open(io.BytesIO(base64.b64decode(analysis.atoms_thumbnail(np.eye(10)[:2]).split(",", 1)[1])))
    assert strip.width > strip.height  # atoms without an image shape: heat-map rows


def test_points_near_lists_every_run_under_a_click_the_clicked_one_first():
    rows = [{"run_id": "a", "l0": 8.0, "fvu": 0.20}, {"run_id": "b", "l0": 8.1, "fvu": 0.201},
            {"run_id": "c", "l0": 4.0, "fvu": 0.40}, {"run_id": "d", "l0": None, "fvu": None}]
    assert analysis.points_near(rows, "b") == ["b", "a"]
    assert analysis.points_near(rows, "c") == ["c"]
    assert analysis.points_near(rows, "d") == [] and analysis.points_near(rows, "gone") == []


def test_reference_points_pca_fvu_from_the_spectrum():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 3)) * [3.0, 2.0, 1.0]
    X = X - X.mean(0)
    points = analysis.reference_points(X, [1, 2], nmf=False)
    energy = np.square(np.linalg.svd(X, compute_uv=False))
    assert [p["fvu"] for p in points] == pytest.approx([energy[1:].sum() / energy.sum(), energy[2] / energy.sum()])
    assert [p["l0"] for p in points] == [1.0, 2.0]
    with_nmf = analysis.reference_points(np.abs(X), [2], nmf_steps=20)
    assert [p["model"] for p in with_nmf] == ["pca", "nmf"] and 0 <= with_nmf[1]["fvu"] < 1


# -- background helpers ---------------------------------------------------------------------------------------------------------
def test_save_when_done_saves_a_finished_job_to_the_store(tmp_path):
    X = np.random.default_rng(8).uniform(size=(100, 16)).astype(np.float32)
    model = models.create("sae-topk", n_components=8, k=2, max_steps=30, random_state=0, device="cpu")
    job = TrainingJob(model, X, model_name="sae-topk", dataset_name="digits", image_shape=(4, 4))
    store = RunStore(tmp_path)
    ticket = saving.save_when_done(job, store, data_options={"n_samples": 100})
    job.start()
    assert ticket.done.wait(60) and ticket.error is None
    record = store.get(ticket.run_id)
    assert record.status == "finished" and record.dataset == "digits" and record.image_shape == (4, 4)
    assert record.metrics["seconds"] > 0 and "fvu" in record.metrics and record.data_options == {"n_samples": 100}
    assert store.load_model(record.id).components_.shape == (8, 16)


def test_a_job_is_recorded_at_its_start_and_completed_in_place(tmp_path):
    """The run is in the store while it trains (so a killed server leaves it 'interrupted')."""
    X = np.random.default_rng(8).uniform(size=(100, 16)).astype(np.float32)
    model = models.create("sae-topk", n_components=8, k=2, max_steps=100_000, random_state=0, device="cpu")
    job = TrainingJob(model, X, model_name="sae-topk", dataset_name="digits", image_shape=(4, 4))
    store = RunStore(tmp_path)
    ticket = saving.save_when_done(job, store)
    # recorded before it returns: a process killed from here on leaves the run 'interrupted'
    assert ticket.recorded.is_set()
    (running,) = store.list_runs(status="running")
    job.start()
    assert not running.has_weights
    job.stop()
    assert ticket.done.wait(60) and ticket.error is None
    assert ticket.run_id == running.id
    saved = store.get(running.id)
    assert saved.status == "stopped" and saved.has_weights and len(store.list_runs()) == 1


def test_a_failed_job_closes_its_run_without_weights(tmp_path):
    X = np.random.default_rng(8).uniform(size=(100, 16)).astype(np.float32) - 0.5  # negative: NMF refuses it
    job = TrainingJob(models.create("nmf", n_components=4, device="cpu"), X, model_name="nmf", dataset_name="noise")
    store = RunStore(tmp_path)
    ticket = saving.save_when_done(job, store)
    job.start()
    assert ticket.done.wait(60) and ticket.record is None and ticket.error is None
    (closed,) = store.list_runs()
    assert closed.status == "failed" and not closed.has_weights and "Negative" in closed.note


def test_a_sweep_job_saves_its_points_and_reference_points(tmp_path):
    X = np.random.default_rng(9).uniform(size=(120, 16)).astype(np.float32)
    store = RunStore(tmp_path)
    base = {"n_components": 8, "max_steps": 20, "log_every": 10, "device": "cpu"}
    job = sweep_jobs.SweepJob(X, models_=["sae-topk"], param="k", values=[1, 2, 4], base_params={"sae-topk": base},
                            store=store, dataset="bars", image_shape=(4, 4), reference_steps=10).start()
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.state == "done" and snap.progress == 1.0 and snap.error is None
    assert [row["value"] for row in snap.rows] == [1, 2, 4]
    saved = store.list_runs(sweep=snap.sweep_ids[0])
    assert len(saved) == 3 and all(r.metrics["seconds"] is not None for r in saved)
    assert {p["model"] for p in snap.references} == {"pca", "nmf"}
    with pytest.raises(ValueError, match="more than the 8 atoms"):
        sweep_jobs.SweepJob(X, models_=["sae-topk"], param="k", values=[16], base_params={"sae-topk": base})


def test_a_stopped_sweep_job_says_so(tmp_path):
    X = np.random.default_rng(10).uniform(size=(120, 16)).astype(np.float32)
    job = sweep_jobs.SweepJob(X, models_=["sae-l1"], param="l1_coef", values=[1e-3, 1e-2],
                            base_params={"sae-l1": {"n_components": 8, "max_steps": 100000, "device": "cpu"}},
                            store=RunStore(tmp_path), dataset="bars").start()
    wait_until(lambda: job.snapshot().progress > 0, 120, "the sweep's first logged step", every=0.02)
    job.stop()
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.progress < 1
    assert [(row["value"], row["status"]) for row in snap.rows] == [(1e-3, "stopped"), (1e-2, "stopped")]


def test_atoms_zip_of_a_comparison_side_is_valid():
    # the pages export single atoms with core.render; check the archive has one PNG per atom
    data = render.atoms_zip_bytes(np.eye(16)[:3], (4, 4))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert len(archive.namelist()) == 3


def test_a_sweep_on_a_store_that_cannot_be_written_still_trains_and_says_why(tmp_path, monkeypatch):
    import errno

    from core.store import layout

    X = np.random.default_rng(11).uniform(size=(120, 16)).astype(np.float32)
    store = RunStore(tmp_path)

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(layout, "write_file", full)
    base = {"n_components": 8, "max_steps": 20, "log_every": 10, "device": "cpu"}
    # in this process: the store's writes are refused by monkeypatching, which a worker process would not see
    job = sweep_jobs.SweepJob(X, models_=["sae-topk"], param="k", values=[1, 2], base_params={"sae-topk": base},
                            store=store, dataset="bars", references=False, processes=False).start()
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.state == "done" and snap.error is None
    assert [row["value"] for row in snap.rows] == [1, 2] and all(row["run_id"] is None for row in snap.rows)
    assert any("not saved" in note and "full" in note for note in snap.notes), snap.notes
    assert store.list_runs() == []


def _sweep_workers() -> list[int]:
    """Worker processes (core.jobs.worker) this test process started."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == os.getpid() and stat[0] != "Z" and \
                    b"worker_main" in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_a_sweep_trains_in_a_worker_process_and_a_closed_tab_stops_it(tmp_path):
    X = np.random.default_rng(12).uniform(size=(120, 16)).astype(np.float32)
    before = set(_sweep_workers())
    job = sweep_jobs.SweepJob(X, models_=["sae-l1"], param="l1_coef", values=[1e-3, 1e-2],
                            base_params={"sae-l1": {"n_components": 8, "max_steps": 100000, "device": "cpu"}},
                            store=RunStore(tmp_path), dataset="bars", idle_timeout=3.0, processes=True).start()
    # read like an open tab (each snapshot touches the job) until the first step is logged
    wait_until(lambda: job.snapshot().progress > 0, 120, "the sweep's first logged step", every=0.05)
    workers = set(_sweep_workers()) - before
    assert len(workers) == 1 and job.snapshot().state == "running"
    # the tab closes: nobody reads the sweep any more, so it stops itself and its process ends
    assert job.wait(60)
    snap = job.snapshot(touch=False)
    assert snap.state == "stopped"
    assert [(row["value"], row["status"]) for row in snap.rows] == [(1e-3, "stopped"), (1e-2, "stopped")]
    assert len(RunStore(tmp_path).list_runs(sweep=snap.sweep_ids[0])) == 2  # saved by the worker, same ids
    assert not workers & set(_sweep_workers())
