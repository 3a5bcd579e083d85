"""Inspect's Sample tab says what the atoms are added to, and draws the four panels on one colour scale.

NMF has no bias: its panel "mean / decoder bias" was a flat tile (zeros scaled on their own) under a caption
"Sample 0 = mean (decoder bias) + the weighted atoms". PCA adds the data's mean, an autoencoder its decoder
bias. Each panel was scaled on its own, so a reconstruction dimmer than the original looked as bright.
"""

from __future__ import annotations

import numpy as np
import pytest

from app_support import open_page
from core import datasets, models, render
from core.store import RunStore


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspect-sample") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAE_EXPLORER_RUNS", str(root))
        store, ds = RunStore(root), datasets.load("digits")
        saved = {}
        for name, params in (("nmf", {"max_steps": 20}), ("pca", {}), ("sae-topk", {"k": 3, "max_steps": 30})):
            model = models.create(name, n_components=8, random_state=0, device="cpu", **params).fit(ds.X)
            saved[name] = store.save_run(model, dataset="digits", X=ds.X, image_shape=ds.image_shape)
        yield saved


def _sample_tab(run_id, monkeypatch):
    drawn = []
    original = render.sample_grid

    def recording(X, image_shape, **options):
        picture = original(X, image_shape, **options)
        drawn.append((np.asarray(X), options, picture))
        return picture

    monkeypatch.setattr(render, "sample_grid", recording)
    at = open_page("views/inspect.py")
    at.selectbox(key="inspect:run").set_value(run_id).run()
    assert not at.exception and not at.error, at.exception or at.error
    # the last four-tile picture of four columns (the quantile examples are four samples in two columns)
    return at, [(X, options, picture) for X, options, picture in drawn if options.get("columns") == 4][-1]


def _captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_nmf_has_no_bias_and_its_zero_base_is_drawn_as_zero(runs, monkeypatch):
    at, (X, options, picture) = _sample_tab(runs["nmf"].id, monkeypatch)
    assert "= the weighted atoms (this model adds no mean or bias)" in _captions(at)
    assert "mean (decoder bias)" not in _captions(at)
    assert not X[1].any() and options["normalize"] == "global"
    grey, width = np.asarray(picture.convert("L")), (picture.width - 3 * 4) // 4  # four tiles, 4 pixels apart
    tile, darkest = grey[:, width + 4: 2 * width + 4], grey[:, :width].min()
    assert tile.max() == darkest  # zero is the darkest grey on the scale the sample is drawn on


def test_pca_adds_the_mean_and_an_sae_its_decoder_bias(runs, monkeypatch):
    at, (X, options, _) = _sample_tab(runs["pca"].id, monkeypatch)
    assert "= the mean + the weighted atoms" in _captions(at)
    np.testing.assert_allclose(X[1], datasets.load("digits").X.mean(axis=0), atol=1e-4)
    at, (X, options, _) = _sample_tab(runs["sae-topk"].id, monkeypatch)
    assert "= the decoder bias + the weighted atoms" in _captions(at)
    assert X[1].any() and options["normalize"] == "global"
