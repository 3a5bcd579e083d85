"""Activations and embeddings from files (.safetensors, .npy, .npz, .csv) with their texts or labels, and the
offline text-embeddings demo (issue 22, inputs)."""

from __future__ import annotations

import numpy as np
import pytest

from core import datasets
from core.datasets import DatasetError, load


# ----------------------------------------------------------------------------------------------- the text demo


def test_text_embeddings_are_unit_signed_rows_with_their_sentences_and_topics():
    data = load("text-embeddings", n_samples=300, dims=32)
    assert data.X.shape == (300, 32) and data.image_shape is None
    np.testing.assert_allclose(np.linalg.norm(data.X, axis=1), 1.0, atol=1e-5)
    assert data.X.min() < 0 < data.X.max()
    assert data.texts.shape == (300,) and data.texts.dtype.kind == "U"
    assert data.label_names == ("space", "cooking", "football", "music", "finance", "weather")
    assert set(np.unique(data.labels)) == set(range(6))
    # each sentence uses its topic's words: the topic's nouns appear in the sentences labelled with it
    from core.datasets.text_embeddings import TOPICS

    for text, label in zip(data.texts[:50], data.labels[:50]):
        nouns = TOPICS[data.label_names[label]][0]
        assert any(noun in text.lower() for noun in nouns), (text, data.label_names[label])
    # same topic, nearer embeddings: the mean cosine within a topic beats the one across topics
    same = data.labels[:, None] == data.labels[None, :]
    cosine = data.X @ data.X.T
    assert cosine[same].mean() > cosine[~same].mean() + 0.2


def test_text_embeddings_keep_their_dims_for_a_small_sample_and_are_deterministic():
    small = load("text-embeddings", n_samples=10)
    assert small.X.shape == (10, 64) and len(small.texts) == 10
    again = load("text-embeddings", n_samples=10)
    np.testing.assert_array_equal(small.X, again.X)
    assert small.texts.tolist() == again.texts.tolist()
    with pytest.raises(DatasetError, match="dims"):
        load("text-embeddings", dims=500)


# ----------------------------------------------------------------------------------------------- files
N, D = 30, 16
TEXTS = np.array([f"sentence number {i}, about {'cats' if i % 2 else 'dogs'}" for i in range(N)])
LABEL_WORDS = np.array(["dog", "cat"])[np.arange(N) % 2]


@pytest.fixture(scope="module")
def activations():
    return np.random.default_rng(0).standard_normal((N, D)).astype(np.float32)


def _save_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_with_texts_and_string_labels(tmp_path, activations):
    path = _save_npz(tmp_path / "acts.npz", texts=TEXTS, X=activations, labels=LABEL_WORDS)
    data = load(path)
    np.testing.assert_array_equal(data.X, activations)  # the numeric array, though 'texts' comes first
    assert data.texts.tolist() == TEXTS.tolist() and data.image_shape is None  # 16 features: no fake 4x4 image
    assert data.label_names == ("cat", "dog") and data.labels.tolist() == [1, 0] * (N // 2)
    sample = load(path, n_samples=10, seed=3)  # the subset keeps each row with its text and label
    for row, text, label in zip(sample.X, sample.texts, sample.labels):
        index = int(np.flatnonzero((activations == row).all(axis=1))[0])
        assert text == TEXTS[index] and sample.label_names[label] == LABEL_WORDS[index]


def test_npz_texts_as_bytes_and_integer_labels_by_option(tmp_path, activations):
    path = _save_npz(tmp_path / "named.npz", acts=activations, sentences=np.char.encode(TEXTS, "utf-8"),
                     y=np.arange(N) % 3)
    data = load(path, key="acts", texts="sentences", labels="y")
    assert data.texts[5] == TEXTS[5] and data.labels.tolist()[:4] == [0, 1, 2, 0] and data.label_names is None
    with pytest.raises(DatasetError, match=r"no array named 'words' for the texts.*acts, sentences, y"):
        load(path, texts="words")


def test_npz_object_texts_are_refused_unopened_with_the_fix(tmp_path, activations):
    path = tmp_path / "object.npz"
    np.savez(path, X=activations, texts=np.array(list(TEXTS), dtype=object))
    with pytest.raises(DatasetError, match=r"object \(pickled\) array.*dtype=str"):
        load(path)


def test_npz_texts_of_the_wrong_length_are_named(tmp_path, activations):
    path = _save_npz(tmp_path / "short.npz", X=activations, texts=TEXTS[:-1])
    with pytest.raises(DatasetError, match=f"'texts' has shape \\({N - 1},\\), but the data has {N} rows"):
        load(path)


def _save_safetensors(path, **tensors):
    import torch
    from safetensors.torch import save_file

    save_file({name: torch.as_tensor(value) for name, value in tensors.items()}, str(path))
    return path


def test_safetensors_one_tensor_is_the_default_and_bfloat16_is_read(tmp_path, activations):
    import torch

    path = _save_safetensors(tmp_path / "one.safetensors", acts=torch.as_tensor(activations).to(torch.bfloat16),
                             labels=np.arange(N) % 2)
    data = load(path)
    np.testing.assert_allclose(data.X, activations, rtol=1e-2, atol=1e-2)
    assert data.labels.tolist()[:3] == [0, 1, 0] and data.image_shape is None
    upload = datasets.load_bytes(path.read_bytes(), "one.safetensors")
    np.testing.assert_array_equal(upload.X, data.X)


def test_a_safetensors_subset_reads_the_rows_load_would_take(tmp_path, monkeypatch):
    from core.datasets import activations as reader

    big = np.random.default_rng(4).standard_normal((500, 8)).astype(np.float32)
    path = _save_safetensors(tmp_path / "rows.safetensors", X=big, labels=np.arange(500))
    monkeypatch.setattr(reader, "_CHUNK_BYTES", 64 * 8 * 8)  # chunks of 64 rows, each read lazily
    data = load(path, n_samples=50, seed=2)
    rows = np.sort(np.random.default_rng(2).choice(500, size=50, replace=False))
    np.testing.assert_array_equal(data.X, big[rows])
    assert data.labels.tolist() == rows.tolist()  # each row keeps its label


def test_safetensors_with_several_tensors_needs_a_name(tmp_path, activations):
    path = _save_safetensors(tmp_path / "layers.safetensors", resid_5=activations, resid_6=2 * activations)
    with pytest.raises(DatasetError, match=r"holds 2 tensors: resid_5, resid_6.*tensor=NAME"):
        load(path)
    np.testing.assert_array_equal(load(path, tensor="resid_6").X, 2 * activations)
    with pytest.raises(DatasetError, match=r"no tensor named 'resid_7'.*resid_5, resid_6"):
        load(path, tensor="resid_7")


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    path = tmp_path / "fake.safetensors"
    path.write_bytes(b"\x80\x04 not safetensors at all")
    with pytest.raises(DatasetError, match="not a readable .safetensors file"):
        load(path)


def test_csv_with_a_quoted_text_column_and_a_label_column(tmp_path, activations):
    lines = ["a,b,text,label"] + [f'{x[0]:.6f},{x[1]:.6f},"{t}",{w}' for x, t, w in zip(activations, TEXTS, LABEL_WORDS)]
    path = tmp_path / "table.csv"
    path.write_text("\n".join(lines))
    data = load(path)
    np.testing.assert_allclose(data.X, activations[:, :2], atol=1e-6)
    assert data.texts[1] == TEXTS[1] and "," in data.texts[1]  # the quoted comma stays in the text
    assert data.label_names == ("cat", "dog")


def test_csv_text_column_found_without_a_name_and_chosen_by_option(tmp_path):
    rows = "\n".join(f"{i},{i * 2},note {i},kind {i % 2}" for i in range(6))
    path = tmp_path / "bare.csv"
    path.write_text(rows)
    with pytest.raises(DatasetError, match=r"'column 3', 'column 4' hold no numbers.*texts="):
        load(path)
    path.write_text("x,y,comment,kind\n" + rows)
    data = load(path, texts="comment", labels="kind")
    assert data.X.shape == (6, 2) and data.texts[2] == "note 2" and data.label_names == ("kind 0", "kind 1")


def test_the_cli_trains_on_activations_with_texts(tmp_path, activations, capsys):
    from core import cli

    path = _save_npz(tmp_path / "acts.npz", X=activations, texts=TEXTS)
    code = cli.main(["train", "--data", str(path), "--model", "sae-topk", "--n-components", "8", "--max-steps", "3",
                     "--device", "cpu"])
    assert code == 0, capsys.readouterr().err


# ----------------------------------------------------------------------------------------------- large files


def test_a_npy_on_disk_is_memory_mapped_and_only_the_rows_used_are_read(tmp_path, monkeypatch):
    big = np.random.default_rng(1).standard_normal((2000, 64)).astype(np.float32)  # 512 KB
    path = tmp_path / "big.npy"
    np.save(path, big)
    opened = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: opened.append(k.get("mmap_mode")) or real_load(*a, **k))
    data = load(path, n_samples=100, seed=1)
    assert opened == ["r"]
    rows = np.sort(np.random.default_rng(1).choice(2000, size=100, replace=False))
    np.testing.assert_array_equal(data.X, big[rows])  # the same subset load() takes of data held in memory


def test_data_over_the_memory_limit_is_refused_with_the_limit_and_the_fix(tmp_path, monkeypatch, activations):
    from core import budget

    big = np.zeros((4000, 64), np.float32)  # 1 MiB; a run holds 4 copies: 4 MiB
    np.save(tmp_path / "big.npy", big)
    _save_npz(tmp_path / "big.npz", X=big)
    _save_safetensors(tmp_path / "big.safetensors", X=big)
    monkeypatch.setenv(budget.MEMORY_ENV, "2")  # MiB
    for name in ("big.npy", "big.npz", "big.safetensors"):
        with pytest.raises(DatasetError) as refused:
            load(tmp_path / name)
        message = str(refused.value)
        assert "4,000 samples x 64 features" in message and "2 MiB" in message, message
        assert "SAE_EXPLORER_RUN_MEMORY=2" in message and "n_samples=2,048 or fewer fit" in message
        assert load(tmp_path / name, n_samples=2000).X.shape == (2000, 64)  # the fix offered works
    with pytest.raises(DatasetError, match="too large to train on"):
        datasets.load_bytes((tmp_path / "big.npy").read_bytes(), "big.npy")
    assert datasets.load_bytes((tmp_path / "big.npy").read_bytes(), "big.npy", n_samples=2000).n_samples == 2000


def _safetensors_bytes(header: dict, data: bytes) -> bytes:
    import json
    import struct

    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize("case, data, words", [
    ("truncated", lambda ok: ok[:-40], "not a readable .safetensors"),
    ("lying header", lambda ok: _safetensors_bytes({"X": {"dtype": "F32", "shape": [10**9, 4096],
                                                          "data_offsets": [0, 16]}}, bytes(16)), "not a readable"),
    ("1-D tensor", lambda ok: _safetensors_bytes({"X": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                                                 bytes(16)), "must be 2-D"),
    ("labels only", lambda ok: _safetensors_bytes({"labels": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}},
                                                  bytes(16)), "no tensor of data besides its labels"),
])
def test_bad_safetensors_files_get_one_clear_error(tmp_path, activations, case, data, words):
    good = _save_safetensors(tmp_path / "good.safetensors", X=activations).read_bytes()
    with pytest.raises(DatasetError, match=words):
        datasets.load_bytes(data(good), "bad.safetensors")
