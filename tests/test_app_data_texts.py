"""The Data page with activations that carry texts and labels (issue 22): an .npz upload with texts and
string labels, a .safetensors upload with its tensor chosen on the page, and the text demo's preview."""

from __future__ import annotations

import io

import numpy as np

from tests.app_support import app_state, elements, messages, open_page

N, D = 24, 64  # 64 features: a perfect square, still drawn as vectors
UPLOAD = "Upload a file ..."


def _npz_bytes() -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buffer, X=rng.standard_normal((N, D)).astype(np.float32),
             texts=np.array([f"the sentence of row {i}" for i in range(N)]),
             labels=np.array(["alpha", "beta", "gamma"])[np.arange(N) % 3])
    return buffer.getvalue()


def _upload(at, name: str, data: bytes) -> None:
    at.file_uploader(key="data:upload").set_value((name, data, "application/octet-stream")).run()


def _frames(at) -> list:
    return list(at.dataframe)


def test_an_npz_upload_with_texts_shows_them_beside_its_strips():
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value(UPLOAD).run()
    _upload(at, "acts.npz", _npz_bytes())
    assert not at.exception and not at.error, messages(at)
    ds = app_state(at).dataset
    assert ds.texts is not None and ds.texts[5] == "the sentence of row 5"
    assert ds.label_names == ("alpha", "beta", "gamma") and ds.image_shape is None
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Image shape"] == "none"
    assert metrics["Min"] == f"{ds.X.min():.3g}" and metrics["Max"] == f"{ds.X.max():.3g}"  # whole, not cut off
    (table,) = _frames(at)
    shown = table.value
    assert list(shown.columns) == ["sample", "text", "label"]
    row = shown.iloc[0]
    assert row["text"] == f"the sentence of row {row['sample']}" and row["label"] == ["alpha", "beta", "gamma"][
        row["sample"] % 3]
    (samples,) = [image for image in elements(at, "image") if "random samples" in image.proto.imgs[0].caption]
    caption = samples.proto.imgs[0].caption
    assert "a strip each (64 numbers" in caption and "alpha" in caption


def test_a_safetensors_upload_takes_its_tensor_from_the_page():
    import torch
    from safetensors.torch import save

    data = save({"resid_4": torch.zeros(10, 8), "resid_5": torch.ones(10, 8)})
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value(UPLOAD).run()
    _upload(at, "layers.safetensors", data)
    assert not at.exception and "resid_4, resid_5" in messages(at)  # core's message: which tensors there are
    at.text_input(key="data:upload:key").set_value("resid_5").run()
    assert not at.exception and not at.error, messages(at)
    assert app_state(at).dataset.X.sum() == 80.0


def test_the_text_demo_previews_its_sentences():
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("text-embeddings").run()
    assert not at.exception and not at.error
    (table,) = _frames(at)
    assert table.value["label"].isin(["space", "cooking", "football", "music", "finance", "weather"]).all()
