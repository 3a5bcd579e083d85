"""``python -m core export`` / ``import`` with this app's own checkpoints: ``export`` takes the Weights download
(.zip) as it takes a ``train --out`` folder; ``import`` of either says it is this app's checkpoint and how to
convert it; an import whose ``--dataset`` loads nothing here says the run got no metrics, and why."""

from __future__ import annotations

import json
import zipfile

import pytest

from core import checkpoint, cli, datasets, models


@pytest.fixture(scope="module")
def own_checkpoint(tmp_path_factory):
    """A small TopK SAE saved as `train --out` saves it (a folder) and as the Weights download (a .zip)."""
    root = tmp_path_factory.mktemp("own")
    X = datasets.load("digits", n_samples=100).X
    sae = models.create("sae-topk", n_components=8, k=2, max_steps=5, random_state=0, device="cpu").fit(X)
    extra = {"data": "digits", "data_options": {"n_samples": 100, "scale": "minmax"}}
    checkpoint.save(sae, root / "folder", extra_config=extra)
    (root / "download.zip").write_bytes(checkpoint.to_bytes(sae, extra_config=extra))
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_takes_the_weights_download_zip(own_checkpoint, capsys):
    out = own_checkpoint / "saelens"
    code, _, err = run(capsys, "export", str(own_checkpoint / "download.zip"), "--format", "saelens", "--out", str(out))
    assert code == 0, err
    recorded = json.loads((out / "cfg.json").read_text())["sae_nmf_explorer"]
    assert recorded["data"] == "digits" and recorded["data_options"]["scale"] == "minmax"


@pytest.mark.parametrize("source", ["folder", "download.zip"])
def test_importing_an_own_checkpoint_says_how_to_convert_it(own_checkpoint, capsys, source):
    code, _, err = run(capsys, "import", str(own_checkpoint / source), "--store", str(own_checkpoint / "store"))
    assert code == 2
    assert "this app's own checkpoint" in err and "python -m core export" in err


def test_an_import_measured_on_nothing_says_so(own_checkpoint, capsys):
    exported = own_checkpoint / "sparsify"
    assert run(capsys, "export", str(own_checkpoint / "folder"), "--format", "sparsify", "--out", str(exported))[0] == 0
    store = str(own_checkpoint / "store")
    code, out, err = run(capsys, "import", str(exported), "--dataset", "digit", "--store", store)  # a typo
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["dataset"] == "digit"
    assert "'digit' is not a data set or file here" in err and "no metrics" in err
    code, _, err = run(capsys, "import", str(exported), "--dataset", "digits", "--store", store)
    assert code == 0 and "no metrics" not in err


def test_a_model_that_is_not_an_sae_names_every_sae_that_exports(tmp_path, capsys):
    X = datasets.load("digits", n_samples=60).X
    checkpoint.save(models.create("pca", n_components=4).fit(X), tmp_path / "pca")
    code, _, err = run(capsys, "export", str(tmp_path / "pca"), "--format", "saelens", "--out", str(tmp_path / "x"))
    assert code == 2 and "pca is not a sparse autoencoder" in err
    for exportable in ("sae-topk", "sae-l1", "sae-jumprelu", "sae-batchtopk", "sae-matryoshka", "sae-gated", "nnsae"):
        assert exportable in err


def test_exporting_an_saelens_sae_says_to_import_it_first(own_checkpoint, tmp_path, capsys):
    """SAELens -> sparsify goes through the run store: import, then export the run; export says so."""
    exported = tmp_path / "saelens"
    assert run(capsys, "export", str(own_checkpoint / "folder"), "--format", "saelens", "--out", str(exported))[0] == 0
    zipped = tmp_path / "saelens.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for file in exported.iterdir():
            archive.write(file, file.name)
    for source in (exported, zipped):
        code, _, err = run(capsys, "export", str(source), "--format", "sparsify", "--out", str(tmp_path / "x"))
        assert code == 2
        assert "SAELens' or sparsify's layout" in err and f"python -m core import {source}" in err


def test_export_refuses_a_folder_holding_the_other_layouts_weights(own_checkpoint, tmp_path, capsys):
    out = tmp_path / "sae"
    source = str(own_checkpoint / "folder")
    assert run(capsys, "export", source, "--format", "saelens", "--out", str(out))[0] == 0
    code, _, err = run(capsys, "export", source, "--format", "sparsify", "--out", str(out))
    assert code == 2 and "already holds sae_weights.safetensors" in err
    assert sorted(p.name for p in out.iterdir()) == ["cfg.json", "sae_weights.safetensors"]  # left as it was
    assert run(capsys, "export", source, "--format", "saelens", "--out", str(out))[0] == 0  # the same layout: fine
