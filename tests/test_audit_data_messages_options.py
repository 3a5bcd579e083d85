"""A data error about an option names it the way each of its users sets it: the Python keyword, the Data
page's box ('Array / tensor', 'Labels', 'Samples') and the CLI's spelling (--data-option key=..., --n-samples),
all from one table (core.datasets.option_names), which must match the page's boxes and the CLI's parser."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from core import cli, datasets
from core.datasets import option_names
from tests.app_support import messages, open_page

ROOT = Path(__file__).resolve().parents[1]
X = np.random.default_rng(0).random((6, 5)).astype(np.float32)


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def safetensors_bytes(**tensors) -> bytes:
    import torch
    from safetensors.torch import save

    return save({name: torch.from_numpy(value) for name, value in tensors.items()})


def refusal(call) -> str:
    with pytest.raises(datasets.DatasetError) as caught:
        call()
    return str(caught.value)


CASES = {
    "npz key": (lambda: datasets.load_bytes(npz_bytes(acts=X), "a.npz", key="resid"),
                ["key=NAME", "'Array / tensor' box", "--data-option key=NAME"]),
    "npz labels": (lambda: datasets.load_bytes(npz_bytes(acts=X, y=np.arange(6)), "a.npz", labels="lab"),
                   ["labels=NAME", "'Labels' box", "--data-option labels=NAME"]),
    "csv texts": (lambda: datasets.load_bytes(b"a,b\n1,2\n3,4\n", "a.csv", texts="words"),
                  ["texts=NAME", "'Texts' box", "--data-option texts=NAME"]),
    "csv two word columns": (lambda: datasets.load_bytes(b"1,x,y\n3,z,w\n", "a.csv"),
                             ["'Texts' box", "'Labels' box", "--data-option labels=NAME"]),
    "csv without header": (lambda: datasets.load_bytes(b"1,x\n3,z\n", "a.csv", labels="q"),
                           ["'Labels' box left empty", "no --data-option labels"]),
    "safetensors tensor": (lambda: datasets.load_bytes(safetensors_bytes(a=X, b=X.copy()), "a.safetensors", tensor="c"),
                           ["tensor=NAME", "'Array / tensor' box", "--data-option tensor=NAME"]),
    "too many samples": (lambda: datasets.load("digits", n_samples=5000),
                         ["n_samples=1797", "'Samples' box", "--n-samples 1797", "'Samples' box at 0",
                          "no --n-samples"]),
    "too few samples": (lambda: datasets.load("digits", n_samples=1), ["'Samples' box", "--n-samples 2"]),
    "a bad seed": (lambda: datasets.load("digits", seed=-1), ["'Seed' box", "--seed 0"]),
    "a built-in set's option": (lambda: datasets.load("patches", patch_size=1),
                                ["'Patch size' box", "--data-option patch_size=2"]),
    "pictures that do not fit": (lambda: datasets.load("digits", image_shape=(8, 9)),
                                 ["image_shape=(8, 8)", "'Picture height' and 'Picture width' boxes",
                                  "--data-option image_shape=[8,8]"]),
    "an unknown scale": (lambda: datasets.load("digits", scale="max"),
                         ["'Scale' box", "--data-option scale=minmax"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_data_error_names_the_option_for_the_page_and_the_cli(case):
    call, words = CASES[case]
    text = refusal(call)
    for word in words:
        assert word in text, f"{case}: {word!r} missing from {text!r}"
    assert "pass key=" not in text and "=None for all" not in text


def test_every_option_a_page_or_file_takes_is_in_the_table():
    common = {"n_samples", "seed", "scale", "center", "image_shape"}
    file_options = {name for options in datasets.FILE_OPTIONS.values() for name in options}
    assert common | file_options <= set(option_names.PLACES)


def test_the_tables_boxes_are_the_data_pages_labels():
    page = (ROOT / "views" / "data.py").read_text()
    for option, (place, _) in option_names.PLACES.items():
        for label in re.findall(r"'([^']+)'", place):
            assert f'"{label}' in page, f"{option}: the Data page has no box labelled {label!r}"
    for option in datasets.DATASET_OPTIONS["sparse-synthetic"]:  # the page labels built-in options by rule
        assert option_names.page_label(option) == {"n_features": "N features", "n_atoms": "N atoms", "k": "k",
                                                   "noise": "Noise", "non_negative": "Non-negative"}[option]


def test_the_cli_spellings_load_what_they_say():
    spellings = [option_names.cli_spelling(option, value) for option, value in
                 [("n_samples", 64), ("seed", 3), ("scale", "minmax"), ("center", True), ("image_shape", (4, 16))]]
    args = cli.build_parser().parse_args(["train", "--data", "digits", "--model", "pca",
                                          *" ".join(spellings).split()])
    data = datasets.load(args.data, **cli.data_options(args))
    assert data.options["n_samples"] == 64 and data.options["seed"] == 3 and data.options["center"] is True
    assert data.options["scale"] == "minmax" and data.image_shape == (4, 16)


def test_the_data_page_shows_the_box_to_change():
    at = open_page("views/data.py")
    at.number_input(key="data:digits:n_samples").set_value(5000).run()
    assert not at.exception
    shown = messages(at)
    assert "the 'Samples' box at 0" in shown and "asks for more samples than the data set has (1,797)" in shown
