"""core.checkpoint: round trips for every model, and refusal (never unpickling) of anything else."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

from core import checkpoint, models
from core.checkpoint import CheckpointError

TINY = {"n_components": 4, "max_steps": 3, "k": 2, "batch_size": 16, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((24, 16)).astype(np.float32)  # non-negative: fits every model


def fit_tiny(name: str, X: np.ndarray):
    try:
        allowed = models.default_params(name)
    except ImportError as error:
        pytest.skip(f"model {name!r} is not importable yet: missing module {getattr(error, 'name', error)}")
    return models.create(name, **{k: v for k, v in TINY.items() if k in allowed}).fit(X)


@pytest.fixture(scope="module")
def pca(X):
    return fit_tiny("pca", X)


@pytest.fixture()
def saved(pca, tmp_path):
    return checkpoint.save(pca, tmp_path / "run", extra_config={"data": "noise", "image_shape": [4, 4]})


class Boom:
    """Unpickling this creates ``path``: proof that a loader executed a pickle."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture()
def no_unpickling(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint loader tried to unpickle")

    for target in (pickle, torch):
        monkeypatch.setattr(target, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


def assert_same_model(original, loaded, X):
    assert type(loaded) is type(original)
    assert loaded.get_params() == original.get_params()
    for name, array in original.get_weights().items():
        np.testing.assert_array_equal(loaded.get_weights()[name], array)
    np.testing.assert_array_equal(loaded.transform(X), original.transform(X))  # bit-identical
    np.testing.assert_array_equal(loaded.reconstruct(X), original.reconstruct(X))


# -- round trips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["pca", "nmf"])
def test_directory_and_zip_round_trip(name, X, tmp_path):
    model = fit_tiny(name, X)
    path = checkpoint.save(model, tmp_path / name, extra_config={"data": "noise"})
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "weights.safetensors"]
    assert_same_model(model, checkpoint.load(path), X)
    assert_same_model(model, checkpoint.from_bytes(checkpoint.to_bytes(model)), X)
    zip_path = tmp_path / f"{name}.zip"
    zip_path.write_bytes(checkpoint.to_bytes(model))
    loaded, config = checkpoint.load(zip_path, return_config=True)
    assert_same_model(model, loaded, X)
    assert config["model"] == name and config["n_features_in"] == X.shape[1]


@pytest.mark.parametrize("name", models.available())
def test_every_registered_model_round_trips(name, X):
    model = fit_tiny(name, X)
    assert_same_model(model, checkpoint.from_bytes(checkpoint.to_bytes(model)), X)


def test_config_holds_the_documented_keys(saved, pca):
    config = json.loads((saved / "config.json").read_text())
    assert config["format"] == "sae-nmf-explorer" and config["version"] == 1
    assert config["model"] == "pca" and config["params"]["random_state"] == 0
    assert config["n_features_in"] == 16 and config["image_shape"] == [4, 4] and config["data"] == "noise"
    assert checkpoint.read_config(saved) == config


def test_save_into_an_existing_folder_keeps_other_files(pca, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    checkpoint.save(pca, out)
    checkpoint.save(pca, out)  # overwrite in place
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "notes.txt", "weights.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary leftovers
    assert checkpoint.load(out).n_features_in_ == 16


def test_device_override_and_unavailable_saved_device(saved):
    assert checkpoint.load(saved, device="cpu").device == "cpu"
    config = json.loads((saved / "config.json").read_text())
    config["params"]["device"] = "cuda"
    (saved / "config.json").write_text(json.dumps(config))
    expected = "cuda" if torch.cuda.is_available() else "cpu"  # a GPU save still loads on a CPU machine
    assert checkpoint.load(saved).device == expected


def test_save_rejects_unsaveable_params_and_reserved_keys(X, tmp_path):
    model = models.create("pca", n_components=2, random_state=np.random.RandomState(0), device="cpu").fit(X)
    with pytest.raises(CheckpointError, match="random_state must be an int or None"):
        checkpoint.save(model, tmp_path / "a")
    model.set_params(random_state=0)
    with pytest.raises(CheckpointError, match="may not set"):
        checkpoint.to_bytes(model, extra_config={"model": "nmf"})
    with pytest.raises(CheckpointError, match="image_shape"):
        checkpoint.to_bytes(model, extra_config={"image_shape": [3, 3]})
    assert not (tmp_path / "a").exists()


# -- refusals --------------------------------------------------------------------------------------
def test_pickles_are_refused_and_never_executed(saved, tmp_path, no_unpickling):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Boom(marker))
    torch_buffer = io.BytesIO()
    torch.save({"components_": Boom(marker)}, torch_buffer)

    (saved / "weights.safetensors").write_bytes(payload)
    with pytest.raises(CheckpointError, match="pickled checkpoints are never loaded") as error:
        checkpoint.load(saved)
    assert "pickle" in str(error.value)
    (tmp_path / "model.pt").write_bytes(torch_buffer.getvalue())
    with pytest.raises(CheckpointError, match="PyTorch pickle"):
        checkpoint.load(tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="never loaded"):
        checkpoint.from_bytes(payload)
    assert not marker.exists()


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda raw: np.random.default_rng(1).bytes(500), "not a valid safetensors"),
        (lambda raw: raw[: len(raw) // 2], "truncated"),
        (lambda raw: b"", "empty file"),
    ],
    ids=["random-bytes", "truncated", "empty"],
)
def test_damaged_weights_give_a_clear_error(saved, corrupt, message, no_unpickling):
    weights = saved / "weights.safetensors"
    weights.write_bytes(corrupt(weights.read_bytes()))
    with pytest.raises(CheckpointError, match=message) as error:
        checkpoint.load(saved)
    assert "export the weights as safetensors" in str(error.value).lower()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.update(model="no-such-model"), "unknown model 'no-such-model'"),
        (lambda c: c.update(format="other"), "not a sae-nmf-explorer checkpoint"),
        (lambda c: c.update(version=99), "newer than this app reads"),
        (lambda c: c.pop("n_features_in"), "n_features_in"),
        (lambda c: c["params"].update(no_such_param=1), "has no parameter no_such_param"),
        (lambda c: c.update(model="nmf", params={}), "do not belong to a 'nmf' model"),
        (lambda c: c.update(n_features_in=15, image_shape=None), "different saves"),
    ],
    ids=["model", "format", "version", "n-features", "param", "weights-of-another-model", "shape"],
)
def test_bad_config_gives_a_clear_error(saved, edit, message):
    config = json.loads((saved / "config.json").read_text())
    edit(config)
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(saved)


def test_config_that_is_not_json(saved):
    (saved / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        checkpoint.load(saved)


def test_zip_entries_are_guarded(pca, tmp_path):
    good = zipfile.ZipFile(io.BytesIO(checkpoint.to_bytes(pca)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in good.namelist():
            archive.writestr(name, good.read(name))
        archive.writestr("../evil.py", "print('hi')")
    with pytest.raises(CheckpointError, match="exactly config.json and weights.safetensors"):
        checkpoint.from_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="truncated"):
        checkpoint.from_bytes(checkpoint.to_bytes(pca)[:200])
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        checkpoint.load(tmp_path / "missing")
