"""The Compare page tells the truth: its sample numbers follow the data set, its pictures put both sides on
one colour scale (a matched pair looks alike whatever the sign an SAE learned its atom with), and the runs'
names are read whole in the picture titles and the metrics table."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app_support import elements, open_page
from core import analysis, datasets, models, render
from core.analysis.pairing import pair_tiles, reconstruction_panels
from core.store import RunStore
from ui.stored_runs import data_key

SHAPE, SCALE = (4, 4), 2


def _pixels(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.convert("RGB")).astype(int)


# -- core: one colour scale, signs aligned, titles that do not overprint --------------------------------------
def test_a_value_has_the_same_colour_in_the_original_and_in_each_reconstruction():
    rng = np.random.default_rng(0)
    originals = rng.uniform(0.2, 1.0, size=(3, 16))  # non-negative data, as digits
    halved = 0.5 * originals
    halved[:, 5] = originals[:, 5]  # pixel 5 has the same value in the original and this reconstruction
    halved[0, 3] = -0.1  # a reconstruction may dip below zero where the data never does
    original, reconstruction = (_pixels(p) for p in reconstruction_panels(originals, [halved], SHAPE, scale=SCALE))
    row, column = divmod(5, SHAPE[1])
    for sample in range(3):
        top = sample * (SHAPE[0] * SCALE + 1)  # tiles stacked with one pixel between them
        y, x = top + row * SCALE, column * SCALE
        assert tuple(original[y, x]) == tuple(reconstruction[y, x]), f"sample {sample}: pixel 5 coloured differently"
    assert not np.array_equal(original, reconstruction)  # the other (halved) pixels do look different


def test_the_original_is_not_gray_beside_red_and_blue_reconstructions():
    originals = np.random.default_rng(1).uniform(0.0, 1.0, size=(2, 16))
    signed = originals - 0.3
    panels = reconstruction_panels(originals, [signed], SHAPE, scale=SCALE)
    gray = [np.all(p[..., 0] == p[..., 1]) and np.all(p[..., 1] == p[..., 2]) for p in map(_pixels, panels)]
    assert gray == [False, False]  # both drawn with the diverging map chosen over both


def test_a_matched_pair_learned_with_opposite_signs_is_drawn_alike():
    rng = np.random.default_rng(2)
    nmf = rng.uniform(0.0, 1.0, size=(5, 16)) * (rng.uniform(size=(5, 16)) > 0.5)  # non-negative parts
    order = [3, 0, 4, 1, 2]
    sae = -nmf[order]  # the same atoms, learned with the opposite sign
    sae[:, 0] += 0.05  # and not exactly: its own atoms have a little of both signs
    pairs = analysis.pair_atoms(nmf, sae)
    assert np.all(pairs.signs == -1) and {row["sign of cos"] for row in pairs.table()} == {-1}
    aligned = pairs.aligned_right(sae)
    assert np.all(np.einsum("ij,ij->i", aligned[pairs.right], nmf[pairs.left]) > 0)  # each points as its partner
    for left_tile, right_tile, _ in pair_tiles(nmf, sae, SHAPE, pairs=pairs, scale=SCALE):
        left_pixels, right_pixels = _pixels(left_tile), _pixels(right_tile)
        differing = np.any(np.abs(left_pixels - right_pixels) > 40, axis=-1)
        assert differing.mean() <= 1 / 16 + 1e-9, "a pair differs beyond the one perturbed pixel"
    flipped = analysis.comparison_image(nmf, -nmf[order], SHAPE, scale=SCALE)
    same_sign = analysis.comparison_image(nmf, nmf[order], SHAPE, scale=SCALE)
    assert np.array_equal(_pixels(flipped), _pixels(same_sign))  # the sign an atom was learned with changes nothing


def test_both_sides_of_the_pairing_share_one_colour_map():
    rng = np.random.default_rng(3)
    nmf = rng.uniform(0.1, 1.0, size=(4, 16))
    sae = nmf.copy()
    sae[:, 7] = -0.02  # a faint negative pixel makes the SAE side signed
    for left_tile, right_tile, _ in pair_tiles(nmf, sae, SHAPE, scale=SCALE):
        left_pixels, right_pixels = _pixels(left_tile), _pixels(right_tile)
        assert np.any(left_pixels[..., 0] != left_pixels[..., 2])  # not gray next to a red/blue partner
        differing = np.any(np.abs(left_pixels - right_pixels) > 40, axis=-1)
        assert differing.mean() <= 1 / 16 + 1e-9


def _text_runs(picture: Image.Image, band: int, white_gap: int) -> int:
    """How many separate runs of dark pixels the top ``band`` rows hold, split by ``white_gap`` clean columns."""
    dark = (_pixels(picture)[:band] < 160).any(axis=(0, 2))
    runs, blank = 0, white_gap
    for is_dark in dark:
        if is_dark:
            runs += blank >= white_gap
            blank = 0
        else:
            blank += 1
    return runs


def test_column_titles_never_overprint_and_a_too_long_word_is_shortened():
    panels = [Image.new("RGB", (16, 40), (120, 120, 120)) for _ in range(3)]
    picture = render.side_by_side(panels, ["original", "sae-jumprelu", "sae-l1"], gap=8)
    band = picture.height - 40
    assert _text_runs(picture, band, white_gap=6) == 3  # three titles, with clean space between them
    wrapped = render.side_by_side(panels[:2], ["nmf (left)", "nmf (right)"], gap=8)
    assert wrapped.height - 40 > band  # several words wrap onto more lines rather than run into the neighbour
    long_name = render.side_by_side(panels[:1], ["x" * 300])
    assert long_name.width <= render.MAX_LABEL_WIDTH


# -- the page -----------------------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    return RunStore(tmp_path / "runs")


def _save(store, dataset, name, **params):
    ds = datasets.load(dataset)
    model = models.create(name, n_components=6, max_steps=20, random_state=0, device="cpu", **params).fit(ds.X)
    return store.save_run(model, dataset=dataset, X=ds.X, image_shape=ds.image_shape)


def test_the_samples_to_reconstruct_follow_the_data_set(store):
    swimmer = [_save(store, "swimmer", "nmf"), _save(store, "swimmer", "sae-l1")]
    digits = [_save(store, "digits", "nmf"), _save(store, "digits", "sae-l1")]  # newest: shown first
    at = open_page("views/compare.py")
    assert at.selectbox(key="compare:data").value == data_key(digits[0])
    assert at.text_input(key="compare:samples").value == "0, 359, 718, 1077, 1436, 1796"
    at.selectbox(key="compare:data").set_value(data_key(swimmer[0])).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.text_input(key="compare:samples").value == "0, 51, 102, 153, 204, 255"  # swimmer has 256 samples
    assert len(elements(at, "image")) == 2  # the pairing and the reconstructions
    at.text_input(key="compare:samples").set_value("7, 8").run()  # typed on swimmer: kept on swimmer
    at.run()
    assert at.text_input(key="compare:samples").value == "7, 8" and not at.error
    at.selectbox(key="compare:data").set_value(data_key(digits[0])).run()
    assert at.text_input(key="compare:samples").value == "0, 359, 718, 1077, 1436, 1796" and not at.error


def test_the_metrics_table_shows_the_runs_full_names(store):
    nmf = store.rename(_save(store, "digits", "nmf").id, "non-negative matrix factorisation, six parts, a long name")
    sae = store.rename(_save(store, "digits", "sae-jumprelu").id, "jumprelu sparse autoencoder with six atoms")
    at = open_page("views/compare.py")
    assert not at.exception and not at.error
    (table,) = at.table  # a static table, whose headers wrap, not a data grid that cuts them at its column width
    assert list(table.value.columns) == [f"Left run: {nmf.name} (nmf)", f"Right run: {sae.name} (sae-jumprelu)"]
    assert list(table.value.index)[:2] == ["MSE", "FVU"]
    caption = elements(at, "image")[1].proto.imgs[0].caption  # the reconstructions' titles are the model names
    assert f"by the left run, {nmf.name} (nmf), and by the right run, {sae.name} (sae-jumprelu)" in caption
