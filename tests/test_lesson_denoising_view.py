"""The denoising lesson shows what its text says (issue 19): NOISY digits, and each autoencoder's reconstruction
of the noisy input side by side, not reconstructions of the clean digits."""

from __future__ import annotations

import numpy as np
import pytest

from core import datasets, lessons, models
from core.analysis.pairing import reconstruction_image
from core.lessons.catalogue import TEST_NOISE
from tests.app_support import elements, open_page

LESSON = "denoising"


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", scale="minmax")


@pytest.fixture(scope="module")
def fitted(digits):
    """The lesson's two runs, briefly trained (what the picture shows, not how well)."""
    return [models.create(run.model, random_state=0, device="cpu", **{**run.params, "max_steps": 20}).fit(digits.X)
            for run in lessons.get(LESSON).runs]


def test_the_picture_shows_the_noisy_input_and_each_models_reconstruction_of_it(digits, fitted):
    picture, caption = lessons.get(LESSON).picture(digits, fitted)
    chosen = np.linspace(0, digits.n_samples - 1, 6).astype(int)
    noisy = digits.X + TEST_NOISE * np.random.default_rng(0).standard_normal(digits.X.shape).astype(np.float32)
    noisy = noisy[chosen]

    def drawn(inputs):
        columns = {"noisy input": noisy, **{label: model.inverse_transform(model.transform(inputs))
                                            for label, model in zip(("plain autoencoder", "denoising autoencoder"),
                                                                    fitted)}}
        return reconstruction_image(digits.X[chosen], {k: np.clip(v, 0, 1) for k, v in columns.items()},
                                    digits.image_shape, scale=8, cmap="gray")

    assert np.array_equal(np.asarray(picture), np.asarray(drawn(noisy)))
    assert not np.array_equal(np.asarray(picture), np.asarray(drawn(digits.X[chosen])))  # not the clean digits'
    assert "the noisy input both models are given" in caption and "reconstruction of it" in caption


def test_the_text_speaks_of_the_picture_it_shows():
    text = lessons.get(LESSON).look_for
    assert "clean, noisy, then each one's reconstruction of the noisy input" in text


def test_compare_shows_the_noisy_picture_under_the_lessons_measure(tmp_path, monkeypatch, digits, fitted):
    from core.store import RunStore

    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    store = RunStore(tmp_path / "runs")
    for model in fitted:
        store.save_run(model, dataset="digits", data_options={"scale": "minmax"}, X=digits.X,
                       image_shape=digits.image_shape)
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{LESSON}").click().run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    captions = [image.proto.imgs[0].caption for image in elements(at, "image")]
    assert any("the noisy input both models are given" in caption for caption in captions), captions
