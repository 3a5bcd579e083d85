"""core.render: sizes, colours, the heat-map path and the PNG / ZIP exports."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from core import render
from core.render import atom_grid, atoms_zip_bytes, colorize, grid_size, png_bytes, sample_grid, side_by_side

WHITE, BLUE, RED = (255, 255, 255), (33, 102, 172), (178, 24, 43)


def _pixel(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    return tuple(image.getpixel((x, y)))


@pytest.mark.parametrize(
    "n_atoms, image_shape, columns, scale, padding",
    [
        (1, (3, 3), None, 1, 0),
        (5, (4, 6), None, 2, 1),
        (7, (2, 3), 3, 3, 2),
        (4, (5, 5), 10, 1, 1),
        (10, (1, 8), 1, 4, 0),
    ],
)
def test_atom_grid_size_matches_grid_size(n_atoms, image_shape, columns, scale, padding):
    atoms = np.random.default_rng(0).normal(size=(n_atoms, image_shape[0] * image_shape[1]))
    image = atom_grid(atoms, image_shape, columns=columns, scale=scale, padding=padding)
    assert image.mode == "RGB"
    assert image.size == grid_size(n_atoms, image_shape, columns=columns, scale=scale, padding=padding)


def test_grid_size_by_hand():
    # 5 atoms -> 3 columns, 2 rows of (4*2) x (6*2) tiles with 1 px between.
    assert grid_size(5, (4, 6), scale=2, padding=1) == (3 * 12 + 2, 2 * 8 + 1)
    assert grid_size(3, (2, 2), columns=10, scale=1, padding=0) == (6, 2)  # columns clamped to n_atoms
    assert grid_size(4, None, scale=3, n_features=7) == (21, 4 * 8 + 3)  # 4 strips of 7 x 3 by 8 px, 1 px apart


def test_brightest_pixel_lands_where_expected():
    atoms = np.zeros((2, 12))
    atoms[1, 1 * 4 + 2] = 1.0  # second atom, row 1, column 2 of a 3 x 4 image
    scale, padding = 5, 2
    image = np.asarray(atom_grid(atoms, (3, 4), columns=2, scale=scale, padding=padding, cmap="gray"))
    tile_left = 4 * scale + padding
    ys, xs = np.nonzero(image[..., 0] == 255)
    assert set(ys) == set(range(1 * scale, 2 * scale))
    assert set(xs) == set(range(tile_left + 2 * scale, tile_left + 3 * scale))
    assert image[0, 0].tolist() == [0, 0, 0]  # the dead first atom is black
    assert image[0, 4 * scale].tolist() == [128, 128, 128]  # padding shows the background


def test_diverging_map_is_white_at_zero_with_opposite_signs():
    atoms = np.array([[-2.0, 0.0, 2.0, 1.0]])
    colors = colorize(atoms, cmap="diverging")[0]
    assert tuple(colors[0]) == BLUE and tuple(colors[1]) == WHITE and tuple(colors[2]) == RED
    assert colors[3, 0] > colors[3, 2]  # half-way to red: more red than blue
    image = atom_grid(atoms, (2, 2), scale=1)  # 'auto' picks diverging for signed atoms
    assert [_pixel(image, x, y) for y in range(2) for x in range(2)] == [BLUE, WHITE, RED, tuple(colors[3])]


def test_auto_gray_and_normalisation():
    atoms = np.array([[0.0, 1.0], [0.0, 4.0]])
    assert colorize(atoms)[:, :, 0].tolist() == [[0, 255], [0, 255]]  # each atom on its own scale
    assert colorize(atoms, normalize="global")[:, :, 0].tolist() == [[0, 64], [0, 255]]
    viridis = colorize(atoms, cmap="viridis")
    assert tuple(viridis[0, 0]) == (68, 1, 84) and tuple(viridis[0, 1]) == (253, 231, 37)
    with pytest.raises(ValueError, match="cmap"):
        colorize(atoms, cmap="jet")
    with pytest.raises(ValueError, match="normalize"):
        colorize(atoms, normalize="rows")


def test_heat_map_for_non_image_data():
    atoms = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 0.5]])
    image = atom_grid(atoms, image_shape=None, scale=2)
    assert image.size == grid_size(2, None, scale=2, n_features=3) == (6 + 1 + 6, 8)  # two strips side by side
    assert _pixel(image, 0, 0) == RED and _pixel(image, 2, 7) == BLUE and _pixel(image, 4, 0) == WHITE
    assert _pixel(image, 12, 7) == RED  # second strip: its own maximum


def test_bad_image_shape_is_explained():
    with pytest.raises(ValueError, match="image_shape"):
        atom_grid(np.ones((2, 10)), (3, 3))


def test_sample_grid_draws_like_atom_grid():
    X = np.random.default_rng(1).random((6, 16))
    assert np.array_equal(np.asarray(sample_grid(X, (4, 4), scale=2)), np.asarray(atom_grid(X, (4, 4), scale=2)))


def test_side_by_side_layout():
    left, right = Image.new("RGB", (10, 20), RED), Image.new("RGB", (30, 5), BLUE)
    plain = side_by_side([left, right], gap=4)
    assert plain.size == (44, 20)
    assert _pixel(plain, 0, 0) == RED and _pixel(plain, 14, 0) == BLUE and _pixel(plain, 12, 0) == WHITE
    labelled = side_by_side([left, right], labels=["data", "reconstruction"], gap=4)
    assert labelled.width > 44 and labelled.height > 20  # each column is as wide as its label's longest word
    label_band = np.asarray(labelled)[: labelled.height - 20]
    assert (label_band < 128).any()  # some dark text was drawn above the panels
    with pytest.raises(ValueError, match="label"):
        side_by_side([left], labels=["a", "b"])


def test_png_bytes_round_trip():
    image = atom_grid(np.random.default_rng(2).normal(size=(5, 9)), (3, 3), scale=3)
    decoded = Image.open(io.BytesIO(png_bytes(image)))
    assert decoded.format == "PNG" and decoded.size == image.size
    assert np.array_equal(np.asarray(decoded.convert("RGB")), np.asarray(image))


def test_atoms_zip_has_one_png_per_atom():
    atoms = np.random.default_rng(3).normal(size=(4, 6))
    with zipfile.ZipFile(io.BytesIO(atoms_zip_bytes(atoms, (2, 3), scale=2, cmap="gray"))) as archive:
        names = archive.namelist()
        assert names == [f"atom_{i:03d}.png" for i in range(4)]
        for name in names:
            tile = Image.open(io.BytesIO(archive.read(name)))
            tile.load()
            assert tile.size == (6, 4)


def test_tile_images_are_the_cells_of_atom_grid():
    atoms = np.random.default_rng(0).standard_normal((5, 12))
    grid = np.asarray(render.atom_grid(atoms, (3, 4), columns=5, scale=2, padding=1))
    tiles = render.tile_images(atoms, (3, 4), scale=2)
    assert [t.size for t in tiles] == [(8, 6)] * 5
    for index, tile in enumerate(tiles):
        left = index * (8 + 1)
        np.testing.assert_array_equal(np.asarray(tile), grid[:6, left:left + 8])
    strips = render.tile_images(atoms, None, scale=2, heat_map_height=9)  # a heat-map row, made taller
    assert [s.size for s in strips] == [(24, 9)] * 5


def test_thin_curve_keeps_the_ends_and_the_spikes_within_the_budget():
    steps = list(range(10, 10010, 10))  # 1000 logged rows
    loss = list(np.linspace(1.0, 0.1, 1000))
    loss[613] = 7.5  # one spike (a learning-rate jump) and one dip
    loss[250] = -1.0
    x, y = render.thin_curve(steps, loss, max_points=400)
    assert len(x) == len(y) <= 400
    assert (x[0], y[0]) == (10, 1.0) and (x[-1], y[-1]) == (10000, loss[-1])
    assert 7.5 in y and -1.0 in y and x == sorted(x)
    assert all(loss[steps.index(s)] == v for s, v in zip(x, y))  # real points, not averages
    assert render.thin_curve([1, 2, 3], [3.0, 2.0, 1.0], 400) == ([1, 2, 3], [3.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        render.thin_curve([1, 2], [1.0], 400)
