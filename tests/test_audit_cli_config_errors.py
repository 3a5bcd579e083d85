"""``python -m core train --config FILE`` with a file that is not a run's config.json: the error says which file
--config takes and where it comes from, not "Save the model again with core.checkpoint.save"."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import cli


@pytest.mark.parametrize("kind", ["npy", "foreign json"])
def test_a_file_that_is_not_a_runs_config_says_what_config_takes(tmp_path, capsys, kind):
    if kind == "npy":
        path = tmp_path / "acts.npy"
        np.save(path, np.zeros((3, 2), dtype=np.float32))
    else:  # e.g. an SAELens cfg.json
        path = tmp_path / "cfg.json"
        path.write_text(json.dumps({"architecture": "topk", "d_in": 4, "d_sae": 8}))
    code = cli.main(["train", "--config", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "core.checkpoint.save" not in err and "Load a checkpoint saved by this app" not in err
    assert "train --out" in err and "Weights download" in err


def test_a_zip_that_is_not_a_checkpoint_says_which_zip_is_meant(tmp_path, capsys):
    bad = tmp_path / "run.zip"
    bad.write_bytes(b"not a zip at all")
    assert cli.main(["export", str(bad), "--format", "saelens", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "Upload" not in err  # nothing is uploaded on the command line
    assert "the .zip saved by this app (config.json + weights.safetensors)" in err
