"""Small static charts with Pillow (no browser, no kaleido): a loss curve against a reference line, and
horizontal bars. For pictures that are files (the lessons' Home cards), where Plotly's live charts cannot go."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from core.render.panels import text_font

#: the curves' colours, in order (blue, orange, green, purple: told apart also in gray)
SERIES_COLORS = ("#1d4ed8", "#ea580c", "#15803d", "#7c3aed")
AXIS_COLOR = "#374151"
GRID_COLOR = "#e5e7eb"
#: the charts' text size (pixels): legible when a 360-pixel card is shown about 270 pixels wide
FONT_SIZE = 16
#: a line chart's default height (pixels)
LINE_CHART_HEIGHT = 240


def _tick_text(value: float) -> str:
    return f"{value:.2g}" if abs(value) < 1e4 else f"{value:.0e}"


def _log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten within [low, high]; four evenly spaced (in log) ticks when fewer than three fit."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    decades = [10.0 ** power for power in range(first, last + 1) if low <= 10.0 ** power <= high]
    return decades if len(decades) >= 3 else list(np.geomspace(low, high, 4))


def line_chart(series: dict[str, tuple[Sequence[float], Sequence[float]]], width: int = 360, height: int = LINE_CHART_HEIGHT,
               reference: tuple[float, str] | None = None, log_y: bool = False, x_label: str = "step",
               y_label: str = "") -> Image.Image:
    """Each of ``series`` (label -> (x, y)) as a line, a legend of their labels at the top; ``reference``
    (value, label) a dashed horizontal line with its label. ``log_y`` draws y on a log scale (for losses that
    fall by orders of magnitude; values must then be positive)."""
    if not series:
        raise ValueError("line_chart needs at least one series.")
    font = text_font(FONT_SIZE)
    line_height = font.getbbox("Ag")[3] + 2
    values = np.concatenate([np.asarray(y, dtype=float) for _, y in series.values()]
                            + ([np.array([reference[0]])] if reference else []))
    values = values[np.isfinite(values)]
    if log_y:
        values = values[values > 0]
    low, high = float(values.min()), float(values.max())
    if log_y:
        low, high = low / 1.3, high * 1.3
        transform = math.log10
        ticks = _log_ticks(low, high)
    else:
        pad = 0.05 * (high - low or abs(high) or 1.0)
        low, high = low - pad, high + pad
        transform = float
        ticks = list(np.linspace(low, high, 4))
    xs = np.concatenate([np.asarray(x, dtype=float) for x, _ in series.values()])
    x_low, x_high = float(xs.min()), float(xs.max()) if xs.max() > xs.min() else float(xs.min()) + 1.0

    legend_rows = len(series) + (1 if y_label else 0)
    left = max(math.ceil(font.getlength(_tick_text(t))) for t in ticks) + 8
    # the top tick's label reaches half a line above the plot: keep it clear of the legend's last row
    top, right, bottom = legend_rows * line_height + 6 + line_height // 2, 10, 2 * line_height + 4
    plot_w, plot_h = width - left - right, height - top - bottom
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)

    def at(x: float, y: float) -> tuple[float, float]:
        fraction = (transform(y) - transform(low)) / (transform(high) - transform(low))
        return left + (x - x_low) / (x_high - x_low) * plot_w, top + (1.0 - fraction) * plot_h

    for tick in ticks:
        _, y = at(x_low, tick)
        draw.line([(left, y), (left + plot_w, y)], fill=GRID_COLOR)
        text = _tick_text(tick)
        draw.text((left - 4 - font.getlength(text), y - line_height / 2), text, fill=AXIS_COLOR, font=font)
    draw.rectangle([left, top, left + plot_w, top + plot_h], outline=AXIS_COLOR)
    for x in (x_low, x_high):
        text = f"{x:.0f}"
        px = at(x, high)[0] - (0 if x == x_low else font.getlength(text))
        draw.text((px, top + plot_h + 2), text, fill=AXIS_COLOR, font=font)
    draw.text((left + plot_w / 2 - font.getlength(x_label) / 2, top + plot_h + 2), x_label, fill=AXIS_COLOR,
              font=font)

    labels = []
    if reference is not None:
        value, label = reference
        _, y = at(x_low, value)
        for start in range(left, left + plot_w, 8):
            draw.line([(start, y), (min(start + 4, left + plot_w), y)], fill="#111827", width=2)
        label_at = (left + plot_w - 4 - font.getlength(label), y - line_height - 1)
        labels.append((label_at, label))
    for index, (label, (x, y)) in enumerate(series.items()):
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        points = [at(float(a), float(b)) for a, b in zip(x, y) if np.isfinite(b) and (b > 0 or not log_y)]
        if len(points) > 1:
            draw.line(points, fill=color, width=3, joint="curve")
        row = index * line_height + 2
        draw.line([(left, row + line_height / 2), (left + 18, row + line_height / 2)], fill=color, width=3)
        draw.text((left + 24, row), label, fill="#111827", font=font)
    for (x, y), label in labels:  # over the curves, on white, so that a curve near the line leaves it legible
        draw.rectangle([x - 2, y + 1, x + font.getlength(label) + 2, y + line_height - 1], fill="white")
        draw.text((x, y), label, fill="#111827", font=font)
    if y_label:
        draw.text((left, len(series) * line_height + 2), y_label, fill=AXIS_COLOR, font=font)
    return image


def bar_chart(labels: Sequence[str], values: Sequence[float], width: int = 360, reference_label: str = "",
              value_suffix: str = "", colors: Sequence[str] | None = None) -> Image.Image:
    """One horizontal bar per label, from a dashed reference line at 0 (named ``reference_label``) to its value,
    the value written after it (with ``value_suffix``)."""
    if len(labels) != len(values) or not labels:
        raise ValueError(f"bar_chart needs one value per label, got {len(labels)} labels and {len(values)} values.")
    font = text_font(FONT_SIZE)
    line_height = font.getbbox("Ag")[3] + 2
    bar_h, gap = 2 * line_height, 8
    texts = [f"{value:+.1f}{value_suffix}" for value in values]
    label_w = max(math.ceil(font.getlength(label)) for label in labels) + 8
    text_w = max(math.ceil(font.getlength(text)) for text in texts) + 6
    top = line_height + 6 if reference_label else 4
    height = top + len(labels) * (bar_h + gap)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    low, high = min(0.0, *values), max(0.0, *values) or 1.0
    span = width - label_w - text_w - 4
    zero = label_w + (0.0 - low) / (high - low) * span
    for index, (label, value, text) in enumerate(zip(labels, values, texts)):
        y = top + index * (bar_h + gap)
        draw.text((0, y + bar_h / 2 - line_height / 2), label, fill="#111827", font=font)
        end = label_w + (value - low) / (high - low) * span
        color = colors[index] if colors else SERIES_COLORS[0]
        draw.rectangle([min(zero, end), y, max(zero, end, min(zero, end) + 1), y + bar_h], fill=color)
        draw.text((max(zero, end) + 4, y + bar_h / 2 - line_height / 2), text, fill="#111827", font=font)
    for start in range(top - 2, height, 6):
        draw.line([(zero, start), (zero, min(start + 3, height))], fill="#111827", width=2)
    if reference_label:
        draw.text((max(0, min(zero - font.getlength(reference_label) / 2, width - font.getlength(reference_label))),
                   0), reference_label, fill="#111827", font=font)
    return image
