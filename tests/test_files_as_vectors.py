"""A numeric file whose rows have a square number of columns (64 = 8 x 8) is guessed to be pictures; the
``as_vectors`` file option says otherwise (True: vectors; False: pictures), is kept in the data options (a
run's config.json, so ``train --config`` replays it), and the Data page's upload form offers it as
"Samples are: pictures / vectors", defaulting to the guess and naming it."""

from __future__ import annotations

import io

import numpy as np
import pytest

from core import checkpoint, cli, datasets
from tests.app_support import app_state, messages, open_page

N = 30
RNG = np.random.default_rng(0)
SQUARE = RNG.random((N, 64)).astype(np.float32)  # 8 x 8
ODD = RNG.random((N, 65)).astype(np.float32)  # no square
UPLOAD = "Upload a file ..."


def npy_bytes(X) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, X)
    return buffer.getvalue()


def npz_bytes(X) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, X=X)
    return buffer.getvalue()


def csv_bytes(X) -> bytes:
    return "\n".join(",".join(f"{v:.6f}" for v in row) for row in X).encode()


def safetensors_bytes(X) -> bytes:
    import torch
    from safetensors.torch import save

    return save({"acts": torch.from_numpy(np.ascontiguousarray(X))})


WRITERS = {".npy": npy_bytes, ".npz": npz_bytes, ".csv": csv_bytes}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The square data as each format on disk (.npy and .safetensors on disk are read memory-mapped)."""
    folder = tmp_path_factory.mktemp("files")
    paths = {}
    for suffix, write in {**WRITERS, ".safetensors": safetensors_bytes}.items():
        paths[suffix] = folder / f"square{suffix}"
        paths[suffix].write_bytes(write(SQUARE))
    return paths


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_square_rows_are_guessed_pictures_unless_as_vectors_says(files, suffix):
    for load in (lambda **kw: datasets.load(files[suffix], **kw),
                 lambda **kw: datasets.load_bytes(files[suffix].read_bytes(), f"square{suffix}", **kw)):
        assert load().image_shape == (8, 8)
        vectors = load(as_vectors=True)
        assert vectors.image_shape is None and vectors.n_features == 64
        assert vectors.options["as_vectors"] is True and vectors.options["image_shape"] is None
        assert "Read as vectors, not as the 8 x 8 pictures" in vectors.description
        np.testing.assert_allclose(vectors.X, load().X)


def test_a_stack_of_pictures_can_be_read_as_vectors():
    stack = npy_bytes(SQUARE.reshape(N, 4, 16))
    assert datasets.load_bytes(stack, "stack.npy").image_shape == (4, 16)
    assert datasets.load_bytes(stack, "stack.npy", as_vectors=True).image_shape is None


def test_as_vectors_false_makes_pictures_even_of_activations(files):
    assert datasets.load(files[".safetensors"]).image_shape is None  # activations: never guessed
    assert datasets.load(files[".safetensors"], as_vectors=False).image_shape == (8, 8)
    odd = npy_bytes(ODD)
    assert datasets.load_bytes(odd, "odd.npy", as_vectors=False, image_shape=(5, 13)).image_shape == (5, 13)
    with pytest.raises(datasets.DatasetError, match=r"65 numbers, which make no square picture.*image_shape"):
        datasets.load_bytes(odd, "odd.npy", as_vectors=False)


@pytest.mark.parametrize("options, words", [
    ({"as_vectors": True, "image_shape": (8, 8)}, "Pass only one of them"),
    ({"as_vectors": "yes"}, "must be True"),
])
def test_contradictions_and_bad_values_are_refused(options, words):
    with pytest.raises(datasets.DatasetError, match=words):
        datasets.load_bytes(npy_bytes(SQUARE), "square.npy", **options)


def test_a_zip_of_images_takes_no_as_vectors():
    with pytest.raises(datasets.DatasetError, match="Unknown option 'as_vectors'"):
        datasets.load_bytes(b"PK\x05\x06" + bytes(18), "images.zip", as_vectors=True)


def test_the_cli_keeps_it_in_the_run_config_and_replays_it(files, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "--data", str(files[".npy"]), "--data-option", "as_vectors=true", "--model", "sae-topk",
                     "--n-components", "8", "--k", "2", "--max-steps", "5", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    config = checkpoint.read_config(out)
    assert config["data_options"]["as_vectors"] is True and config.get("image_shape") is None
    replayed = tmp_path / "replayed"
    code = cli.main(["train", "--config", str(out), "--data", str(files[".npy"]), "--out", str(replayed), "--quiet"])
    assert code == 0, capsys.readouterr().err
    again = checkpoint.read_config(replayed)
    assert again["data_options"]["as_vectors"] is True and again.get("image_shape") is None


# -- the Data page's upload form ---------------------------------------------------------------------------
def upload(name: str, data: bytes):
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value(UPLOAD).run()
    at.file_uploader(key="data:upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception and not at.error, messages(at)
    return at


def samples_are(at):
    (choice,) = [radio for radio in at.radio if radio.label == "Samples are"]
    return choice


def captions(at) -> str:
    return " | ".join(caption.value for caption in at.caption)


def test_the_page_defaults_to_the_guess_says_it_and_reads_vectors_when_told():
    at = upload("square.npy", npy_bytes(SQUARE))
    assert samples_are(at).value == "pictures" and app_state(at).dataset.image_shape == (8, 8)
    assert "Guessed from the file: 8 x 8 pictures (64 numbers per sample)." in captions(at)
    samples_are(at).set_value("vectors").run()
    assert not at.exception and not at.error, messages(at)
    state = app_state(at)
    assert state.dataset.image_shape is None and state.data.options["as_vectors"] is True
    assert {m.label: m.value for m in at.metric}["Image shape"] == "none"
    assert all(box.disabled for box in at.number_input if box.label.startswith("Picture "))
    assert "Guessed from the file: 8 x 8 pictures" in captions(at)  # the guess stays named
    samples_are(at).set_value("pictures").run()  # back to the guess: no option needed
    assert app_state(at).dataset.image_shape == (8, 8) and "as_vectors" not in app_state(at).data.options


def test_the_page_asks_for_a_shape_when_odd_rows_are_called_pictures():
    at = upload("odd.csv", csv_bytes(ODD))
    assert samples_are(at).value == "vectors" and "Guessed from the file: vectors of 65 numbers." in captions(at)
    samples_are(at).set_value("pictures").run()
    assert not at.exception and "Give the pictures' height and width" in messages(at)
    at.number_input(key="data:upload:h").set_value(5).run()
    at.number_input(key="data:upload:w").set_value(13).run()
    assert not at.exception and not at.error, messages(at)
    assert app_state(at).dataset.image_shape == (5, 13)
