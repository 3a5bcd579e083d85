"""Compare's reconstructions of long vectors (a heat map wider than its column) fit the column instead of
running off the page; small pictures (digits) keep their own size."""

from __future__ import annotations

import pytest
import streamlit

from app_support import open_page
from core import datasets, models
from core.store import RunStore


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    return RunStore(tmp_path / "runs")


def _reconstructions_width(store, monkeypatch, dataset: str):
    ds = datasets.load(dataset)
    for tied in (True, False):
        model = models.create("ae", n_components=4, tied=tied, max_steps=10, random_state=0, device="cpu")
        store.save_run(model.fit(ds.X), dataset=dataset, X=ds.X, image_shape=ds.image_shape)
    widths, draw = {}, streamlit.image

    def recording_image(image, *args, **kwargs):  # the width the page asks for (AppTest does not expose it)
        if "the original" in str(kwargs.get("caption")):
            widths["reconstructions"] = (kwargs.get("width"), image.width)
        return draw(image, *args, **kwargs)

    monkeypatch.setattr(streamlit, "image", recording_image)
    at = open_page("views/compare.py")
    assert not at.exception
    return widths["reconstructions"]


def test_long_vectors_reconstructions_fill_their_column(store, monkeypatch):
    asked, own = _reconstructions_width(store, monkeypatch, "gaussian")
    assert own > 400 and asked == "stretch"


def test_small_images_reconstructions_keep_their_size(store, monkeypatch):
    asked, own = _reconstructions_width(store, monkeypatch, "digits")
    assert asked == own
