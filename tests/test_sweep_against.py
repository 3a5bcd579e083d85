"""Stored runs outside a sweep drawn beside it (issue 22: 'an imported SAE can be ... swept against'): an SAE
exported to SAELens' layout and imported again (core.interop) is measured on the sweep's data exactly as the
trials are, offered on the Sweep page, drawn as a labelled point on the frontier and a line of the parallel
coordinates, opened by a click; and `python -m core sweep --against RUN_ID` prints its line."""

from __future__ import annotations

import json

import pytest

from app_support import elements, open_page
from core import datasets, interop, models
from core.analysis.frontier import measured_beside
from core.cli import main
from core.jobs.sweep import SweepJob
from core.store import RunStore
from test_badge_sweep_inspect import _click

METRICS = ("mse", "fvu", "l0", "dead_fraction")


def _imported(store, model, folder, name: str):
    """``model`` exported to SAELens' layout in ``folder``, then imported into ``store`` as a run on digits."""
    files = interop.export_files(model, "saelens", interop.make_provenance(model, "digits", {}))
    interop.write_folder(files, folder)
    return interop.import_to_store(folder, store, dataset="digits", name=name)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A two-trial sweep on digits; its k=2 trial exported and imported again ('twin'); another SAE trained
    apart, exported and imported ('apart')."""
    root = tmp_path_factory.mktemp("against")
    store, ds = RunStore(root / "runs"), datasets.load("digits")
    job = SweepJob(ds.X, models_=["sae-topk"], grid={"k": [2, 4]}, seeds=[0], store=store, dataset="digits",
                   base_params={"sae-topk": {"n_components": 8, "max_steps": 40, "device": "cpu"}},
                   image_shape=ds.image_shape, baselines=False, processes=False)
    job.start()
    assert job.wait(120)
    trials = {r.params["k"]: r for r in job.snapshot(touch=False).records}
    twin = _imported(store, store.load_model(trials[2].id, device="cpu"), root / "twin", "twin of k=2")
    apart = models.create("sae-topk", n_components=8, k=3, max_steps=80, random_state=5, device="cpu").fit(ds.X)
    other = _imported(store, apart, root / "apart", "imported topk")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAE_EXPLORER_RUNS", str(root / "runs"))
        yield store, trials, twin, other


def test_an_imported_sae_is_measured_on_the_sweeps_data_as_its_trials_are(stored):
    store, trials, twin, _ = stored
    row = measured_beside(twin, store.load_model(twin.id, device="cpu"), datasets.load("digits").X)
    assert row["run_id"] == twin.id and row["name"] == "twin of k=2" and row["k"] == 2 and row["n_components"] == 8
    for metric in METRICS:  # the same weights on the same rows: the trial's own numbers
        assert row[metric] == pytest.approx(trials[2].metrics[metric], abs=1e-6), metric
    with pytest.raises(ValueError, match="reads 64 features but the sweep's data has 4"):
        measured_beside(twin, store.load_model(twin.id, device="cpu"), datasets.load("digits").X[:, :4])


def test_the_sweep_page_draws_it_beside_the_trials_and_a_click_opens_it(stored):
    store, trials, twin, other = stored
    at = open_page("views/sweep.py")
    at.toggle(key="sweep:refs").set_value(False).run()
    picker = at.multiselect(key="sweep:against")
    offered = sorted(option.split(" · ")[0] for option in picker.options)  # AppTest gives the labels
    assert offered == ["imported topk", "twin of k=2"]  # the store's runs on digits that are no sweep's trial
    picker.set_value([other.id]).run()
    assert not at.exception and not at.error and not at.warning
    frontier_chart, parallel_chart = elements(at, "plotly_chart")[:2]
    (drawn,) = [t for t in json.loads(frontier_chart.proto.spec)["data"] if t["name"] == "Runs beside the sweep"]
    measured = measured_beside(other, store.load_model(other.id, device="cpu"), datasets.load("digits").X)
    assert drawn["text"] == ["imported topk"] and drawn["customdata"] == [other.id]
    assert drawn["x"] == [pytest.approx(measured["l0"])] and drawn["y"] == [pytest.approx(measured["fvu"])]
    dimensions = {d["label"]: d for d in json.loads(parallel_chart.proto.spec)["data"][0]["dimensions"]}
    assert dimensions["run"]["ticktext"] == ["sweep trials", "imported topk"]
    assert len(dimensions["k"]["values"]) == 3  # two trials and the imported SAE
    assert "seconds" not in dimensions  # an imported SAE has no training time: no such axis
    at.selectbox(key="sweep:click").set_value("inspect").run()
    _click(at, other.id)
    assert not at.exception and [h.value for h in at.header] == ["Inspect"]
    assert at.selectbox(key="inspect:run").value == other.id


def test_the_cli_sweeps_against_a_run_id(stored, capsys):
    store, trials, twin, _ = stored
    status = main(["sweep", "--data", "digits", "--model", "sae-topk", "--grid", "k=2", "--n-components", "8",
                   "--max-steps", "10", "--against", twin.id, "--store", str(store.root)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0
    (beside,) = [line for line in lines if line.get("beside")]
    assert beside["run_id"] == twin.id and beside["data"] == "digits" and lines[-1]["trials"] == 1
    for metric in METRICS:
        assert beside[metric] == pytest.approx(trials[2].metrics[metric], abs=1e-6), metric
    assert main(["sweep", "--data", "digits", "--model", "sae-topk", "--grid", "k=2", "--against",
                 "20991231-000000-0123456789ab", "--store", str(store.root)]) == 2
    assert "--against: No run 20991231-000000-0123456789ab" in capsys.readouterr().err
