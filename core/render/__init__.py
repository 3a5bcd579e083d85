"""Pictures of atoms and samples with Pillow: image grids, heat maps, labelled comparisons, PNG and ZIP export.

Every row of ``atoms`` (n_atoms, n_features) is one picture. With ``image_shape=(h, w)`` each row is
reshaped to an h x w tile and the tiles are laid out in a grid. Without it (activations, embeddings, any
vector) each row is a heat strip: one cell per feature (pooled past ``MAX_STRIP_CELLS``), at most
``MAX_STRIP_WIDTH`` pixels wide and ``strip_height`` tall, on a colour map centred on zero, the strips a
pixel apart in as many columns as keep the picture about square. ``grid_size`` predicts the size exactly.

Colour maps (``core.render.colormaps``): ``'gray'`` (black to white), ``'viridis'`` (a small look-up
table), ``'diverging'`` (blue, white at 0, red: for signed atoms) and ``'auto'`` (diverging when any value
is negative, else gray).
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageColor

from core.metrics import as_numpy
from core.render.colormaps import CMAPS, NORMALIZATIONS, colorize  # noqa: F401 - part of core.render

__all__ = ["CMAPS", "atom_grid", "atoms_zip_bytes", "colorize", "grid_size", "png_bytes", "sample_grid", "side_by_side"]

Color = tuple[int, int, int] | str

DEFAULT_BACKGROUND: Color = (128, 128, 128)
#: the most pixels one picture may have: a page shows about 2000 x 1500, and Pillow refuses (as a
#: "decompression bomb") pictures of about 180 million pixels, which a million-feature atom grid reached
MAX_PICTURE_PIXELS = 4_000_000
#: the most cells a heat strip (an atom without an image shape) is drawn with
MAX_STRIP_CELLS = 1024
#: the widest a heat strip is drawn (pixels): a feature gets ``scale`` pixels only while the strip stays within it
MAX_STRIP_WIDTH = 1024
#: the least height of a heat strip (pixels), so that one atom's strip can be told from the next
MIN_STRIP_HEIGHT = 8
#: the most cells of one image tile (e.g. 256 x 256); a larger image is shrunk by a whole factor
MAX_TILE_CELLS = 256 * 256


# -- layout ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    tile_height: int  # in pixels, after scaling
    tile_width: int
    columns: int
    rows: int
    padding: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the whole picture."""
        return (
            self.columns * self.tile_width + (self.columns - 1) * self.padding,
            self.rows * self.tile_height + (self.rows - 1) * self.padding,
        )

    def origin(self, index: int) -> tuple[int, int]:
        """(top, left) pixel of tile ``index``, filled row by row."""
        row, column = divmod(index, self.columns)
        return row * (self.tile_height + self.padding), column * (self.tile_width + self.padding)


def _cell_shape(n_atoms: int, image_shape, n_features: int | None) -> tuple[int, int]:
    """(height, width) in cells of one atom's tile once bounded: a heat-map row keeps at most
    ``MAX_STRIP_CELLS`` cells, an image at most ``MAX_TILE_CELLS`` (shrunk by a whole factor), and all tiles
    together at most ``MAX_PICTURE_PIXELS`` (so a thousand atoms each get fewer cells)."""
    budget = max(1, min(MAX_TILE_CELLS, MAX_PICTURE_PIXELS // max(1, n_atoms)))
    if image_shape is None:
        if n_features is None:
            raise ValueError("Without image_shape the heat-map size depends on n_features; pass it.")
        return 1, max(1, min(int(n_features), MAX_STRIP_CELLS, budget))
    height, width = (int(v) for v in image_shape)
    factor = _shrink_factor(height, width, budget)
    return math.ceil(height / factor), math.ceil(width / factor)


def _shrink_factor(height: int, width: int, budget: int) -> int:
    """The smallest whole factor that brings an h x w image within ``budget`` cells."""
    factor = max(1, math.isqrt(max(0, height * width - 1) // budget))
    while math.ceil(height / factor) * math.ceil(width / factor) > budget:
        factor += 1
    return factor


def strip_height(scale: int) -> int:
    """The height in pixels of a heat strip drawn at ``scale``."""
    return max(MIN_STRIP_HEIGHT, 2 * int(scale))


def _strip_layout(n_atoms: int, cells: int, columns: int | None, scale: int, padding: int) -> _Layout:
    """Heat strips: ``scale`` pixels a cell while the strip stays within ``MAX_STRIP_WIDTH`` (else one), in
    ``columns`` columns or, by default, as many as make the picture about as wide as tall; cells and strips
    shrink until the picture holds at most ``MAX_PICTURE_PIXELS``."""
    cell_width = max(1, min(int(scale), MAX_STRIP_WIDTH // cells))
    height = strip_height(scale)
    given = None if columns is None else max(1, min(int(columns), n_atoms))
    while True:
        width = cells * cell_width
        columns = given or max(1, min(n_atoms, round(math.sqrt(n_atoms * (height + padding) / (width + padding)))))
        layout = _Layout(height, width, columns, math.ceil(n_atoms / columns), int(padding))
        if layout.size[0] * layout.size[1] <= MAX_PICTURE_PIXELS:
            return layout
        if (cell_width, height) == (1, 1):  # the cells alone fit (``_cell_shape``): the strips touch
            return _Layout(1, cells, columns, layout.rows, 0)
        cell_width, height = max(1, cell_width // 2), max(1, height // 2)


def _layout(n_atoms, image_shape, columns, scale, padding, n_features=None) -> _Layout:
    """Where the tiles go; the tiles are bounded (``_cell_shape``) and ``scale`` is lowered (not below 1) so
    the picture stays within ``MAX_PICTURE_PIXELS``: never larger than a page can show."""
    if n_atoms < 1:
        raise ValueError(f"Need at least one atom to draw, got {n_atoms}.")
    if scale < 1 or padding < 0:
        raise ValueError(f"scale must be >= 1 and padding >= 0, got scale={scale}, padding={padding}.")
    height, width = _cell_shape(n_atoms, image_shape, n_features)
    if image_shape is None:
        if columns is not None and columns < 1:
            raise ValueError(f"columns must be >= 1, got {columns}.")
        return _strip_layout(n_atoms, width, columns, scale, padding)
    if columns is None:
        columns = math.ceil(math.sqrt(n_atoms))
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}.")
    columns = min(int(columns), n_atoms)
    rows = math.ceil(n_atoms / columns)
    scale = int(scale)
    while scale > 1:
        layout = _Layout(height * scale, width * scale, columns, rows, int(padding))
        if layout.size[0] * layout.size[1] <= MAX_PICTURE_PIXELS:
            return layout
        scale -= 1
    return _Layout(height, width, columns, rows, int(padding))


def grid_size(
    n_atoms: int,
    image_shape: tuple[int, int] | None,
    columns: int | None = None,
    scale: int = 4,
    padding: int = 1,
    n_features: int | None = None,
) -> tuple[int, int]:
    """(width, height) in pixels of ``atom_grid`` with the same arguments.

    Image tiles: ``width = c (w s) + (c - 1) padding`` and ``height = r (h s) + (r - 1) padding`` with
    ``c = min(columns or ceil(sqrt(n_atoms)), n_atoms)`` columns and ``r = ceil(n_atoms / c)`` rows.
    Heat strips (``image_shape=None``, needs ``n_features``): tiles of ``cells x min(s, MAX_STRIP_WIDTH //
    cells)`` by ``strip_height(s)`` pixels, ``cells = min(n_features, MAX_STRIP_CELLS)``, in ``columns`` or
    by default ``round(sqrt(n_atoms (height + padding) / (width + padding)))`` columns (about square). Large
    atoms are bounded first: an image tile has at most ``MAX_TILE_CELLS`` cells, and ``s`` (a strip's size)
    is lowered until the picture holds at most ``MAX_PICTURE_PIXELS``.
    """
    return _layout(n_atoms, image_shape, columns, scale, padding, n_features).size


def _check_shape(n_features: int, image_shape) -> None:
    if image_shape is not None and int(image_shape[0]) * int(image_shape[1]) != n_features:
        raise ValueError(
            f"image_shape {tuple(image_shape)} holds {int(image_shape[0]) * int(image_shape[1])} pixels "
            f"but each atom has {n_features} features; pass the data set's image_shape, or None for a heat map."
        )


def _tiles(atoms, image_shape, cmap: str, normalize: str) -> np.ndarray:
    """Coloured tiles, uint8 (n_atoms, h, w, 3); a heat map row (image_shape None) is a (1, cells) tile.

    Atoms larger than a tile may show are pooled first (``_pooled``), before any float64 copy is made, so
    a thousand atoms of a million features cost a few megabytes here, not gigabytes."""
    values = np.atleast_2d(as_numpy(atoms))
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"atoms must be a non-empty array (n_atoms, n_features), got shape {values.shape}.")
    n_atoms, n_features = values.shape
    _check_shape(n_features, image_shape)
    if cmap not in CMAPS:
        raise ValueError(f"Unknown cmap {cmap!r}; choose one of {', '.join(CMAPS)}.")
    if image_shape is None:
        cmap = "diverging" if cmap == "auto" else cmap
    elif cmap == "auto":  # decided on the atoms themselves: pooling may hide a small negative value
        cmap = "diverging" if np.fmin.reduce(values, axis=None) < 0 else "gray"
    height, width = _cell_shape(n_atoms, image_shape, n_features)
    pooled = _pooled(values, image_shape, height, width)
    return colorize(pooled, cmap, normalize).reshape(n_atoms, height, width, 3)


def _pooled(values: np.ndarray, image_shape, height: int, width: int) -> np.ndarray:
    """``values`` (n_atoms, n_features) brought down to (n_atoms, height * width) cells.

    A heat-map row keeps, in each run of consecutive features, the value of largest magnitude (a single
    strong feature stays visible); an image is shrunk by averaging square blocks."""
    n_atoms, n_features = values.shape
    if image_shape is None:
        if width == n_features:
            return values
        starts = np.linspace(0, n_features, width + 1).astype(np.int64)[:-1]
        high, low = np.fmax.reduceat(values, starts, axis=1), np.fmin.reduceat(values, starts, axis=1)
        return np.where(np.abs(high) >= np.abs(low), high, low)
    rows, columns = (int(v) for v in image_shape)
    if (height, width) == (rows, columns):
        return values
    factor = math.ceil(rows / height) if height < rows else math.ceil(columns / width)
    images = values.reshape(n_atoms, rows, columns)
    row_starts, column_starts = np.arange(0, rows, factor), np.arange(0, columns, factor)
    sums = np.add.reduceat(np.add.reduceat(images, row_starts, axis=1, dtype=np.float64), column_starts, axis=2)
    counts = np.outer(np.diff(np.append(row_starts, rows)), np.diff(np.append(column_starts, columns)))
    return (sums / counts).reshape(n_atoms, height * width)


def _upscale(tile: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement of an (h, w, 3) tile by an integer ``scale``."""
    return tile.repeat(scale, axis=0).repeat(scale, axis=1)


# -- pictures --------------------------------------------------------------------------------------------
def tile_images(atoms, image_shape=None, cmap: str = "auto", scale: int = 4,
                heat_map_height: int | None = None) -> list[Image.Image]:
    """One picture per atom, coloured as ``atom_grid`` colours its cells, enlarged ``scale`` times; a heat
    strip (``image_shape`` None) is ``heat_map_height`` pixels tall (default ``strip_height(scale)``) and as
    wide as in ``atom_grid``."""
    return [Image.fromarray(_enlarged(tile, image_shape, scale, heat_map_height))
            for tile in _tiles(atoms, image_shape, cmap, "each")]


def _enlarged(tile: np.ndarray, image_shape, scale: int, heat_map_height: int | None = None) -> np.ndarray:
    """An image tile enlarged ``scale`` times; a heat strip ``heat_map_height`` (default ``strip_height``)
    pixels tall and ``scale`` pixels a cell while within ``MAX_STRIP_WIDTH``."""
    if image_shape is not None:
        return _upscale(tile, scale)
    cell_width = max(1, min(int(scale), MAX_STRIP_WIDTH // tile.shape[1]))
    height = strip_height(scale) if heat_map_height is None else heat_map_height
    return tile.repeat(height, axis=0).repeat(cell_width, axis=1)


def atom_grid(
    atoms,
    image_shape: tuple[int, int] | None = None,
    columns: int | None = None,
    scale: int = 4,
    cmap: str = "auto",
    normalize: str = "each",
    padding: int = 1,
    background: Color = DEFAULT_BACKGROUND,
) -> Image.Image:
    """One RGB picture of all rows of ``atoms`` (n_atoms, n_features); its size is ``grid_size(...)``.

    image_shape (h, w): a grid of h x w tiles, ``columns`` wide (default ``ceil(sqrt(n_atoms))``), each
    enlarged ``scale`` times (nearest neighbour), ``padding`` pixels of ``background`` between tiles.
    None: a heat strip per atom (see ``grid_size``); ``cmap='auto'`` is then diverging, white at zero.
    normalize: ``'each'`` scales every atom on its own, ``'global'`` all atoms together.
    Large atoms are drawn bounded (see ``grid_size``): the picture never exceeds ``MAX_PICTURE_PIXELS``.
    """
    tiles = _tiles(atoms, image_shape, cmap, normalize)
    n_atoms, tile_height, tile_width, _ = tiles.shape
    n_features = np.shape(atoms)[-1]
    layout = _layout(n_atoms, image_shape, columns, scale, padding, n_features=n_features)
    tall, wide = layout.tile_height // tile_height, layout.tile_width // tile_width  # equal for images

    width, height = layout.size
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = ImageColor.getrgb(background) if isinstance(background, str) else background
    for index, tile in enumerate(tiles):
        top, left = layout.origin(index)
        canvas[top : top + layout.tile_height, left : left + layout.tile_width] = tile.repeat(tall, 0).repeat(wide, 1)
    return Image.fromarray(canvas)


def sample_grid(X, image_shape: tuple[int, int] | None, **options) -> Image.Image:
    """Data samples (rows of X) drawn like atoms: ``atom_grid(X, image_shape, **options)``."""
    return atom_grid(X, image_shape, **options)


# -- export ----------------------------------------------------------------------------------------------
def thin_curve(x: Sequence, y: Sequence, max_points: int = 400) -> tuple[list, list]:
    """At most ``max_points`` points of a curve, for drawing it: the first and last points and, in each of
    ``max_points // 2 - 1`` equal runs of points between them, the lowest and the highest (a spike stays).

    A browser redraws a live loss curve several times a second; past a few hundred points the extra
    points change no pixel but cost every redraw (JSON, parsing, drawing)."""
    n = len(x)
    if n != len(y):
        raise ValueError(f"x and y must have the same length, got {n} and {len(y)}.")
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}.")
    if n <= max_points:
        return list(x), list(y)
    values = np.nan_to_num(np.asarray(y, dtype=np.float64), nan=0.0)
    edges = np.linspace(1, n - 1, max_points // 2).astype(int)  # runs between the first and the last point
    keep = {0, n - 1}
    for start, stop in zip(edges[:-1], edges[1:]):
        if stop > start:
            run = values[start:stop]
            keep.update((start + int(run.argmin()), start + int(run.argmax())))
    chosen = sorted(keep)
    return [x[i] for i in chosen], [y[i] for i in chosen]


def png_bytes(image: Image.Image) -> bytes:
    """The picture encoded as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def atoms_zip_bytes(
    atoms,
    image_shape: tuple[int, int] | None,
    scale: int = 4,
    cmap: str = "auto",
    normalize: str = "each",
) -> bytes:
    """A ZIP archive with one PNG per atom, ``atom_000.png``, ``atom_001.png``, ...

    ``image_shape=None`` gives one heat-map strip per atom. The colour map (``'auto'`` decided over all
    atoms) and a ``'global'`` normalisation are shared by every file, so the files compare like the
    tiles of ``atom_grid``.
    """
    tiles = _tiles(atoms, image_shape, cmap, normalize)
    digits = max(3, len(str(len(tiles) - 1)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:  # PNG is compressed already
        for index, tile in enumerate(tiles):
            picture = Image.fromarray(_enlarged(tile, image_shape, scale))
            archive.writestr(f"atom_{index:0{digits}d}.png", png_bytes(picture))
    return buffer.getvalue()


# Labelled panels side by side, and columns on one colour scale (Compare's pictures): core.render.panels
from core.render.panels import (  # noqa: E402 - it draws with this module's helpers, defined above
    MAX_LABEL_WIDTH, common_cmap, shared_scale_columns, side_by_side, text_font, wrap_label)
