"""The Data page's Samples box: 0 means all (or the default count), and a 1, which no model can train on
(datasets.MIN_SAMPLES = 2), is raised to 2 at once instead of ending in the loader's refusal."""

from __future__ import annotations

from app_support import open_page
from core import datasets


def _samples_box(at):
    return next(widget for widget in at.number_input if widget.label == "Samples")


def test_one_sample_is_raised_to_the_minimum_and_the_set_loads():
    at = open_page("views/data.py")
    _samples_box(at).set_value(1).run()
    assert not at.exception
    assert [error.value for error in at.error] == []
    assert _samples_box(at).value == datasets.MIN_SAMPLES
    shown = {metric.label: metric.value for metric in at.metric}
    assert shown["Samples"] == str(datasets.MIN_SAMPLES)
    assert "at least 2" in _samples_box(at).help


def test_zero_and_two_pass_unchanged():
    at = open_page("views/data.py")
    for value, samples in ((2, "2"), (0, "1,797")):
        _samples_box(at).set_value(value).run()
        assert _samples_box(at).value == value
        assert {metric.label: metric.value for metric in at.metric}["Samples"] == samples
