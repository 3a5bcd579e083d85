"""Pictures side by side: labelled panels in one row, and columns of tiles on one colour scale (the
Compare page's reconstructions and pairs). Re-exported by ``core.render``."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

from core.render import DEFAULT_BACKGROUND, Color, _enlarged, _tiles
from core.render.colormaps import _as_rows, _resolve_cmap


def side_by_side(
    images: Sequence[Image.Image],
    labels: Sequence[str] | None = None,
    gap: int = 8,
    background: Color = (255, 255, 255),
    text_color: Color = (0, 0, 0),
) -> Image.Image:
    """Panels in one row, top-aligned, ``gap`` pixels apart, each under its label (Pillow's default font).

    A label never runs into its neighbour: it is wrapped at its spaces to its panel's width, a column is
    widened (the panel centred in it) when one word is wider than the panel, and a word wider than
    ``MAX_LABEL_WIDTH`` is shortened with an ellipsis (give the full name in a caption)."""
    if not images:
        raise ValueError("side_by_side needs at least one image.")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"Got {len(images)} images but {len(labels)} labels; give one label per image.")
    font = text_font(12)
    lines = [wrap_label(label or "", max(image.width, 1), font) for label, image in
             zip(labels or [""] * len(images), images)]
    line_height = font.getbbox("Ag")[3] + 2
    label_height = max(len(label_lines) for label_lines in lines) * line_height + 4 if labels else 0
    widths = [max([image.width] + [math.ceil(font.getlength(line)) for line in label_lines])
              for image, label_lines in zip(images, lines)]
    width = sum(widths) + gap * (len(images) - 1)
    height = label_height + max(image.height for image in images)
    canvas = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(canvas)
    left = 0
    for image, column_width, label_lines in zip(images, widths, lines):
        for row, line in enumerate(label_lines):
            draw.text((left, row * line_height), line, fill=text_color, font=font)
        canvas.paste(image.convert("RGB"), (left + (column_width - image.width) // 2, label_height))
        left += column_width + gap
    return canvas


#: the widest a word of a panel's label is drawn before it is shortened with an ellipsis
MAX_LABEL_WIDTH = 160


def text_font(size: int = 12):
    """Pillow's default font at ``size`` pixels (one bitmap size before Pillow 10.1)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def _shortened(word: str, width: int, font) -> str:
    """``word``, or its longest start that fits ``width`` pixels with an ellipsis after it."""
    if font.getlength(word) <= width:
        return word
    while len(word) > 1 and font.getlength(word + "…") > width:
        word = word[:-1]
    return word + "…"


def wrap_label(text: str, width: int, font) -> list[str]:
    """``text`` in lines of at most ``width`` pixels, broken at spaces; a single word wider than that stays
    whole up to ``MAX_LABEL_WIDTH`` (the column is widened for it) and is shortened beyond."""
    lines: list[str] = []
    for word in text.split():
        word = _shortened(word, max(width, MAX_LABEL_WIDTH), font)
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def common_cmap(arrays: Sequence, cmap: str = "auto") -> str:
    """The one colour map for pictures drawn side by side: ``'auto'`` is decided over all ``arrays`` together
    (diverging when any value of any of them is negative, else gray), so no side is gray beside a red/blue one."""
    lowest = min(float(np.min(_as_rows(values))) for values in arrays)
    return _resolve_cmap(np.array([lowest]), cmap)


def shared_scale_columns(arrays: Sequence, image_shape: tuple[int, int] | None = None, cmap: str = "auto",
                         scale: int = 4, padding: int = 1, background: Color = DEFAULT_BACKGROUND) -> list[Image.Image]:
    """One column of tiles per array of ``arrays`` (each (n_i, n_features)), all on ONE colour scale: the
    colour map is chosen and the values normalised over every array together, so a value has the same
    colour in every column (e.g. an original and its reconstructions). A row without an image shape is a
    heat strip, drawn and spaced as in ``atom_grid``."""
    values = [_as_rows(array) for array in arrays]
    if len({v.shape[1] for v in values}) != 1:
        raise ValueError(f"All arrays must have the same number of features, got {[v.shape[1] for v in values]}.")
    tiles = _tiles(np.vstack(values), image_shape, common_cmap(values, cmap), "global")
    gap = padding
    fill = ImageColor.getrgb(background) if isinstance(background, str) else background
    columns, start = [], 0
    for array in values:
        blocks = []
        for tile in tiles[start:start + len(array)]:
            drawn = _enlarged(tile, image_shape, scale)
            if blocks and gap:
                blocks.append(np.full((gap, drawn.shape[1], 3), fill, dtype=np.uint8))
            blocks.append(drawn)
        columns.append(Image.fromarray(np.concatenate(blocks)))
        start += len(array)
    return columns
