"""The Sweep page's values box promises 'low:high:count for log-spaced values (e.g. 8:256:6 for k ...)': for a
whole-number setting (k, n_components) the range gives whole numbers, rounded to the nearest (it was refused:
'k takes whole numbers of at least 1')."""

from __future__ import annotations

import pytest

from ui.typed_input import parse_values


def test_the_pages_own_example_gives_the_doublings():
    assert parse_values("8:256:6", "k") == [8, 16, 32, 64, 128, 256]


def test_a_range_of_whole_numbers_rounds_and_gives_each_once():
    assert parse_values("16:64:3", "n_components") == [16, 32, 64]
    assert parse_values("1:4:6", "k") == [1, 2, 3, 4]  # 1, 1.3, 1.7, 2.3, 3.0, 4: rounded, repeats once


def test_a_weights_range_stays_as_it_was():
    assert parse_values("1e-4:1e-1:4", "l1_coef") == [1e-4, 1e-3, 1e-2, 1e-1]
    with pytest.raises(ValueError, match="whole numbers"):
        parse_values("2.5, 4", "k")
