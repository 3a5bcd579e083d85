"""One-to-one pairing of two dictionaries and the pictures that show the pairs side by side."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw

from core import metrics, render


#: a pair at least this alike (|cos|) is drawn green in ``comparison_image``
STRONG = 0.8


# -- pairing two dictionaries --------------------------------------------------------------------------------
@dataclass(frozen=True)
class AtomPairs(metrics.AtomMatching):
    """``core.metrics.AtomMatching`` of two models' atoms (A: left, B: right), best pair first, with what a
    side-by-side display needs: ``signs[k]``, the sign of pair k's cosine (+1 or -1: an atom and its negation
    span the same line, so the matching by |cos| ignores it), a table and the right atoms turned to match.
    ``left``/``right``/``left_unmatched``/``right_unmatched`` name the matching's sides as the pages do.
    """

    signs: np.ndarray

    left = property(lambda self: self.rows)
    right = property(lambda self: self.cols)
    left_unmatched = property(lambda self: self.unmatched_a)
    right_unmatched = property(lambda self: self.unmatched_b)

    @property
    def n_pairs(self) -> int:
        return int(self.rows.size)

    def table(self) -> list[dict[str, Any]]:
        """A table: one row per pair (rank, left atom, right atom, |cos|, the sign of the cosine), then the
        unmatched atoms."""
        table = [{"pair": k + 1, "left atom": int(a), "right atom": int(b), "|cos|": float(s),
                  "sign of cos": int(sign)}
                 for k, (a, b, s, sign) in enumerate(zip(self.left, self.right, self.similarity, self.signs))]
        table += [{"pair": None, "left atom": int(a), "right atom": None, "|cos|": None, "sign of cos": None}
                  for a in self.left_unmatched]
        table += [{"pair": None, "left atom": None, "right atom": int(b), "|cos|": None, "sign of cos": None}
                  for b in self.right_unmatched]
        return table

    def aligned_right(self, right) -> np.ndarray:
        """The right atoms with each paired one multiplied by its pair's sign, so that it points the same way
        as its left partner (positive cosine) and a matched pair looks alike; unmatched atoms are kept."""
        aligned = np.array(metrics.as_numpy(right), dtype=np.float64)
        aligned[self.right] *= self.signs[:, None]
        return aligned


def pair_atoms(left, right) -> AtomPairs:
    """Pair the rows of ``left`` with those of ``right`` (``core.metrics.match_atoms``), best first."""
    matching = metrics.match_atoms(left, right)
    left_rows = np.asarray(metrics.as_numpy(left), dtype=np.float64)[matching.rows]
    right_rows = np.asarray(metrics.as_numpy(right), dtype=np.float64)[matching.cols]
    signs = np.where(np.einsum("ij,ij->i", left_rows, right_rows) < 0, -1.0, 1.0)  # the sign of each pair's cosine
    return AtomPairs(**vars(matching), signs=signs)


def pair_tiles(left, right, image_shape=None, *, pairs: AtomPairs | None = None, cmap: str = "auto",
               scale: int = 3) -> list[tuple[Image.Image | None, Image.Image | None, str]]:
    """One (left tile, right tile, caption) per pair, best first, then the unmatched atoms of either side
    (None on the missing side). Both sides share one colour map (``render.common_cmap``), each atom scaled
    on its own, and each right atom is drawn with its pair's sign (``AtomPairs.aligned_right``):
    the pairing is by |cos|, so an SAE atom learned with the opposite sign looks like its partner."""
    left = np.asarray(metrics.as_numpy(left), dtype=np.float64)
    pairs = pairs or pair_atoms(left, right)
    right = pairs.aligned_right(right)
    cmap = render.common_cmap([left, right], cmap)
    strip = max(scale, 4) * 3  # a heat-map row gets some height
    left_tiles = render.tile_images(left, image_shape, cmap, scale, heat_map_height=strip)
    right_tiles = render.tile_images(right, image_shape, cmap, scale, heat_map_height=strip)
    cells: list[tuple[Image.Image | None, Image.Image | None, str]] = [
        (left_tiles[a], right_tiles[b], f"{s:.2f}") for a, b, s in zip(pairs.left, pairs.right, pairs.similarity)]
    cells += [(left_tiles[a], None, f"L{a} alone") for a in pairs.left_unmatched]
    cells += [(None, right_tiles[b], f"R{b} alone") for b in pairs.right_unmatched]
    return cells


def comparison_image(left, right, image_shape=None, *, pairs: AtomPairs | None = None,
                     labels: Sequence[str] = ("left", "right"), columns: int | None = None, scale: int = 3,
                     cmap: str = "auto") -> Image.Image:
    """The two dictionaries side by side: one cell per pair (left atom | right atom, |cos| below), drawn as
    ``pair_tiles`` draws them, best pair first, then the unmatched atoms. A title line names the two sides."""
    pairs = pairs or pair_atoms(left, right)
    cells = pair_tiles(left, right, image_shape, pairs=pairs, cmap=cmap, scale=scale)
    first = next(tile for cell in cells for tile in cell[:2] if tile is not None)
    tile_w, tile_h = first.size
    font = render.text_font(15)
    gap, pad, text_h = 2, 10, 20
    cell_w = max(2 * tile_w + gap, 56)
    cell_h = tile_h + text_h
    if columns is None:
        columns = 1 if image_shape is None else max(1, min(len(cells), math.ceil(math.sqrt(len(cells) * 1.5))))
    columns = max(1, min(int(columns), len(cells)))
    rows = math.ceil(len(cells) / columns)
    title = f"left: {labels[0]}   |   right: {labels[1]}   |   pairs by |cos| (Hungarian), best first"
    title_h = 28
    title_w = int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(title, font=font)) + 2 * pad
    width = max(title_w, columns * cell_w + (columns - 1) * pad + 2 * pad)
    height = title_h + rows * cell_h + (rows - 1) * pad + 2 * pad
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 6), title, fill=(17, 24, 39), font=font)
    for index, (a, b, text) in enumerate(cells):
        row, column = divmod(index, columns)
        x0 = pad + column * (cell_w + pad)
        y0 = title_h + pad + row * (cell_h + pad)
        for offset, tile in ((0, a), (tile_w + gap, b)):
            if tile is None:
                draw.rectangle([x0 + offset, y0, x0 + offset + tile_w - 1, y0 + tile_h - 1], fill=(235, 235, 235))
            else:
                canvas.paste(tile, (x0 + offset, y0))
        # green as the page's count of pairs at |cos| >= 0.8 (the rounded text would make 0.7951 green)
        strong = index < pairs.n_pairs and pairs.similarity[index] >= STRONG
        color = (22, 101, 52) if strong else (55, 65, 81)
        draw.text((x0, y0 + tile_h + 2), text, fill=color, font=font)
    return canvas


def reconstruction_panels(originals, reconstructions: Sequence, image_shape=None, scale: int = 3,
                          cmap: str = "auto") -> list[Image.Image]:
    """The chosen samples in a column, then each model's reconstructions of them in a column, all on one
    colour scale (``render.shared_scale_columns``): a pixel value has the same colour in every column."""
    return render.shared_scale_columns([originals, *reconstructions], image_shape, cmap=cmap, scale=scale)


def reconstruction_image(originals, reconstructions: dict[str, np.ndarray], image_shape=None,
                         scale: int = 3, cmap: str = "auto") -> Image.Image:
    """``reconstruction_panels`` side by side under their titles: "original", then the keys of
    ``reconstructions`` (wrapped or shortened by ``render.side_by_side``: give full names in a caption)."""
    panels = reconstruction_panels(originals, list(reconstructions.values()), image_shape, scale, cmap)
    return render.side_by_side(panels, ["original", *reconstructions])
