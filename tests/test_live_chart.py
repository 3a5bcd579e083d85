"""The Train page's live loss chart (ui.train_live.loss_chart), read as the ECharts option the browser gets:
the PCA line at the metric's true height, live changes merged and labelled without overprinting, the log scale."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ui import train_live


def _snap(history, *, reference=None, events=(), active=False, n_components=16):
    step = history[-1]["step"] if history else 0
    return SimpleNamespace(history=list(history), reference_mse=reference, params={"n_components": n_components},
                           events=list(events), step=step, active=active)


def _marks(option) -> list[dict]:
    return option["series"][0]["markLine"]["data"]


def _where_echarts_draws(option, value: float) -> float:
    """The height ECharts draws a markLine of ``value`` at: it rounds the value to the markLine's
    ``precision`` decimals (2 when the option does not say), at most 20 (``value.toFixed(min(p, 20))``)."""
    precision = option["series"][0]["markLine"].get("precision", 2)
    return float(f"{value:.{min(precision, 20)}f}") if precision >= 0 else value


@pytest.mark.parametrize("reference", [0.006843, 0.01104, 0.00153, 2.4, 3.7e-7, 812.25])
def test_the_pca_line_sits_at_the_metrics_value_at_every_scale(reference):
    """Faces rank 16: 0.006843 was drawn at 0.01; digits: 0.01104 at 0.01 and 0.00153 at 0 (2 decimals)."""
    history = [{"step": 10, "mse": reference * 3, "seconds": 0.1}, {"step": 20, "mse": reference * 2, "seconds": 0.2}]
    for log_scale in (False, True):
        option, described = train_live.loss_chart(_snap(history, reference=reference), "MSE", log_scale)
        (line,) = [m for m in _marks(option) if "yAxis" in m]
        assert line["yAxis"] == reference
        assert _where_echarts_draws(option, line["yAxis"]) == pytest.approx(reference, rel=1e-5)
        assert f"{reference:.4g}" in described


def test_live_changes_within_a_second_share_one_mark_with_their_final_values_in_the_sliders_words():
    # three arrow-key presses on k (0.2 s apart), then the L1 weight and k together 0.4 s later; 5 s on, one more
    history = [{"step": s, "mse": 1.0 / s, "seconds": s / 100} for s in range(10, 1010, 10)]
    events = [(100, {"k": 7}), (120, {"k": 6}), (140, {"k": 5}), (180, {"l1_coef": 0.01, "k": 4}),
              (700, {"learning_rate": 0.1})]
    option, described = train_live.loss_chart(_snap(history, events=events), "MSE")
    changes = [(m["xAxis"], m["name"]) for m in _marks(option) if "xAxis" in m]
    assert changes == [(180, "k = 4, L1 weight = 0.01"), (700, "Learning rate = 0.1")]
    assert "l1_coef" not in json.dumps(option) and "learning_rate" not in described
    assert "changes marked: k = 4, L1 weight = 0.01 at step 180; Learning rate = 0.1 at step 700" in described
    # the merged marks: the run's own record of changes (its history and events) keeps each one
    assert train_live.merged_changes(history, events[:2], window=0.1) == [(100, {"k": 7}), (120, {"k": 6})]


def _label_boxes(option) -> list[tuple[int, float, float]]:
    """(row, left, right) in pixels of each shown change label, laid out as the chart's option says."""
    x_max = option["xAxis"]["max"]
    boxes = []
    for mark in _marks(option):
        label = mark["label"]
        if "xAxis" not in mark or not label["show"]:
            continue
        x = mark["xAxis"] / x_max * train_live.PLOT_WIDTH_PX
        width = len(mark["name"]) * train_live.LABEL_CHAR_PX
        left = {"left": x, "right": x - width, "center": x - width / 2}[label["align"]]
        boxes.append((label["distance"], left, left + width))
    return boxes


def test_change_labels_never_overprint_and_every_change_stays_readable():
    """Changes 2 s apart (too far to merge) at neighbouring steps: the labels stagger in rows, and those
    with no room left are hidden on the chart but named in its tooltip and its description."""
    history = [{"step": s, "mse": 1.0, "seconds": 2.0 * s} for s in range(1, 201)]
    events = [(s, {"k": s % 64 + 1}) for s in range(5, 200, 3)]
    option, described = train_live.loss_chart(_snap(history, events=events), "MSE")
    boxes = _label_boxes(option)
    assert 3 <= len(boxes) < len(events)
    for i, (row, left, right) in enumerate(boxes):
        for other_row, other_left, other_right in boxes[i + 1:]:
            assert row != other_row or right <= other_left or other_right <= left, "two labels overprint"
    assert option["series"][0]["markLine"]["tooltip"]["formatter"] == "{b}"  # hover shows any mark's text
    assert all(f"k = {s % 64 + 1} at step {s}" in described for s, _ in events)
    assert option["grid"]["top"] > 22  # room above the plot for the rows of labels


def test_a_log_scale_keeps_a_spike_from_flattening_the_curve_and_skips_what_it_cannot_draw():
    history = [{"step": 10, "mse": 0.008, "seconds": 0.1}, {"step": 20, "mse": 2.4, "seconds": 0.2},
               {"step": 30, "mse": 0.0, "seconds": 0.3}, {"step": 40, "mse": float("nan"), "seconds": 0.4},
               {"step": 50, "mse": 0.007, "seconds": 0.5}]
    linear, _ = train_live.loss_chart(_snap(history, reference=0.0), "MSE")
    assert linear["yAxis"]["type"] == "value" and linear["yAxis"]["min"] == 0
    assert [y for _, y in linear["series"][0]["data"]] == [0.008, 2.4, 0.0, None, 0.007]
    option, described = train_live.loss_chart(_snap(history, reference=0.0), "MSE", log_scale=True)
    json.dumps(option, allow_nan=False)  # strict JSON, as st.echarts_chart sends it
    assert option["yAxis"]["type"] == "log" and "min" not in option["yAxis"]
    assert [y for _, y in option["series"][0]["data"]] == [0.008, 2.4, None, None, 0.007]
    assert not [m for m in _marks(option) if "yAxis" in m]  # a PCA error of 0 has no place on a log axis
    assert "PCA error, rank 16 0, not drawn on a log scale" in described
    assert "1 point at or below 0 not drawn on a log scale" in described
