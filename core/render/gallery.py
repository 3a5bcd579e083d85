"""A gallery of atom grids: small multiples, one labelled panel per setting of a sweep, in one picture."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image

from core.render import MAX_PICTURE_PIXELS, atom_grid
from core.render.panels import side_by_side

#: the atoms each panel shows (the first ones): enough to see their kind, small enough for dozens of panels
ATOMS_PER_PANEL = 16


def gallery(panels: Sequence[tuple[object, str]], image_shape: tuple[int, int] | None = None,
            columns: int | None = None, atoms_per_panel: int = ATOMS_PER_PANEL, scale: int = 2,
            gap: int = 12) -> Image.Image:
    """``panels`` as (atoms, label) pairs drawn as one picture: each panel the ``atom_grid`` of its first
    ``atoms_per_panel`` atoms under its label (wrapped, ``side_by_side``), ``columns`` panels a row (default
    about square), every panel on a cell of the same size so that the grids line up across rows. The scale
    is lowered (not below 1) while the picture would exceed ``MAX_PICTURE_PIXELS``."""
    if not panels:
        raise ValueError("A gallery needs at least one panel.")
    columns = int(columns or math.ceil(math.sqrt(len(panels))))
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}.")
    for drawn_scale in range(max(1, int(scale)), 0, -1):
        picture = _draw(panels, image_shape, columns, atoms_per_panel, drawn_scale, gap)
        if picture.width * picture.height <= MAX_PICTURE_PIXELS:
            break
    return picture


def _draw(panels, image_shape, columns: int, atoms_per_panel: int, scale: int, gap: int) -> Image.Image:
    grids = [atom_grid(np.asarray(atoms)[:atoms_per_panel], image_shape, scale=scale) for atoms, _ in panels]
    cell = (max(g.width for g in grids), max(g.height for g in grids))
    cells = []
    for grid in grids:  # the same cell for every panel: the grids line up across rows
        canvas = Image.new("RGB", cell, (255, 255, 255))
        canvas.paste(grid, ((cell[0] - grid.width) // 2, 0))
        cells.append(canvas)
    labels = [label for _, label in panels]
    rows = [side_by_side(cells[i:i + columns], labels[i:i + columns], gap=gap) for i in range(0, len(cells), columns)]
    picture = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + gap * (len(rows) - 1)),
                        (255, 255, 255))
    top = 0
    for row in rows:
        picture.paste(row, (0, top))
        top += row.height + gap
    return picture
