"""Data without an image shape (activations, embeddings) is drawn as vectors, a bounded heat strip per atom,
never as a fake image (issue 22)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from core import datasets, render

RED, BLUE, WHITE = (178, 24, 43), (33, 102, 172), (255, 255, 255)


def _strip_boxes(picture: Image.Image, background=render.DEFAULT_BACKGROUND):
    """(top, left, height, width) of each strip: the runs of non-background rows and columns."""
    pixels = np.asarray(picture)
    filled = ~(pixels == background).all(axis=2)

    def runs(mask):
        edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
        return list(zip(edges[::2], edges[1::2] - edges[::2]))

    return [(top, left, h, w) for top, h in runs(filled.any(axis=1)) for left, w in runs(filled.any(axis=0))]


def test_768_feature_embeddings_are_strips_a_pixel_apart_not_a_wide_smear():
    atoms = np.random.default_rng(0).standard_normal((64, 768)).astype(np.float32)
    picture = render.atom_grid(atoms, None, scale=4)
    boxes = _strip_boxes(picture)
    assert len(boxes) == 64  # one strip per atom, each one apart from the next
    assert {(h, w) for _, _, h, w in boxes} == {(render.strip_height(4), 768)}  # 1 px a feature, within bounds
    assert picture.width <= render.MAX_STRIP_WIDTH + 2 * 40  # about square: never thousands of pixels wide
    assert 0.3 < picture.width / picture.height < 3


def test_a_strip_shows_each_value_on_a_zero_centred_map():
    atoms = np.zeros((1, 20))
    atoms[0, 3], atoms[0, 11] = 2.0, -1.0
    strip = np.asarray(render.atom_grid(atoms, None, scale=5))
    cell = min(5, render.MAX_STRIP_WIDTH // 20)
    assert tuple(strip[0, 3 * cell]) == RED and tuple(strip[0, 0]) == WHITE  # zero is white
    assert strip[0, 11 * cell, 2] > strip[0, 11 * cell, 0]  # half the largest magnitude, negative: bluish
    non_negative = np.abs(atoms)  # non-negative vectors still keep zero white (not black, as a gray image would)
    assert tuple(np.asarray(render.atom_grid(non_negative, None))[0, 0]) == WHITE


def test_many_long_atoms_stay_bounded_and_keep_a_lone_spike():
    atoms = np.zeros((2000, 5_000), np.float32)
    atoms[1234, 3_137] = -3.0
    picture = render.atom_grid(atoms, None, scale=8)
    assert picture.size == render.grid_size(2000, None, scale=8, n_features=5_000)
    assert picture.width * picture.height <= render.MAX_PICTURE_PIXELS
    tiles = render.tile_images(atoms[1234:1235], None, scale=8)
    assert tiles[0].width <= render.MAX_STRIP_WIDTH
    assert (np.asarray(tiles[0]) == BLUE).all(axis=2).any()  # pooled by magnitude: the spike survives


@pytest.mark.parametrize("n_features", [64, 256, 1024])
def test_square_sized_embeddings_with_texts_are_drawn_as_strips(tmp_path, n_features):
    """A perfect square of features is no reason to draw embeddings as square images."""
    path = tmp_path / "emb.npz"
    np.savez(path, X=np.random.default_rng(1).standard_normal((12, n_features)), texts=np.array(["t"] * 12))
    data = datasets.load(path)
    assert data.image_shape is None
    picture = render.sample_grid(data.X, data.image_shape)
    assert len(_strip_boxes(picture)) == 12


def test_the_text_demo_is_vectors():
    data = datasets.load("text-embeddings", n_samples=40)
    assert data.image_shape is None
    assert len(_strip_boxes(render.sample_grid(data.X, None))) == 40


def test_single_strips_and_their_zip_are_drawn_alike():
    atoms = np.random.default_rng(2).standard_normal((3, 300))
    tiles = render.tile_images(atoms, None, scale=4)
    assert [t.size for t in tiles] == [(300 * 3, render.strip_height(4))] * 3  # 1024 // 300 = 3 px a feature
    with zipfile.ZipFile(io.BytesIO(render.atoms_zip_bytes(atoms, None, scale=4))) as archive:
        sizes = [Image.open(io.BytesIO(archive.read(name))).size for name in archive.namelist()]
    assert sizes == [(900, render.strip_height(4))] * 3


def test_strips_take_the_columns_asked_for():
    atoms = np.random.default_rng(3).standard_normal((12, 100))
    picture = render.atom_grid(atoms, None, columns=4, scale=2, padding=1)
    assert picture.size == render.grid_size(12, None, columns=4, scale=2, padding=1, n_features=100)
    assert picture.size == (4 * 200 + 3, 3 * render.strip_height(2) + 2)
    assert len(_strip_boxes(picture)) == 12


def test_columns_on_one_scale_draw_vectors_as_the_grid_does():
    """Compare's originals-and-reconstructions columns: the same strips as atom_grid, a pixel apart."""
    originals = np.random.default_rng(5).standard_normal((5, 768))
    columns = render.shared_scale_columns([originals, 0.5 * originals], None, scale=3)
    assert [c.size for c in columns] == [(768, 5 * render.strip_height(3) + 4)] * 2
    assert len(_strip_boxes(columns[0])) == 5
