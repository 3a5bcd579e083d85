"""`python -m core sweep --device cuda` where there is no GPU is bad input, said before any training with exit
status 2 (as `train` does), not a sweep that starts and fails with status 1."""

from __future__ import annotations

import json

import pytest
import torch

from core.cli import main


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is here: device cuda is good input")
def test_a_sweep_on_a_missing_gpu_is_refused_as_bad_input(capsys):
    status = main(["sweep", "--data", "digits", "--n-samples", "100", "--model", "sae-topk", "--grid", "k=2,4",
                   "--max-steps", "5", "--device", "cuda"])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert "no CUDA GPU is available here" in err and "device='cpu'" in err and "sweep failed" not in err


def test_the_same_sweep_on_the_cpu_trains(capsys):
    status = main(["sweep", "--data", "digits", "--n-samples", "100", "--model", "sae-topk", "--grid", "k=2",
                   "--max-steps", "5", "--device", "cpu"])
    *trials, summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0 and summary["trials"] == 1 and trials[0]["device"] == "cpu"
