"""Sweep values typed as text (ui.typed_input.parse_values): inf, nan and numbers too large for a float are
refused with a message that names them, for every parameter; 'inf' for k raised an OverflowError (not a
ValueError: a traceback in the page) and 'nan' Python's own 'cannot convert float NaN to integer'."""

from __future__ import annotations

import pytest

from ui.typed_input import parse_values


@pytest.mark.parametrize("text", ["inf", "nan", "2, -inf", "1e400", "1:1e400:3"])
@pytest.mark.parametrize("param", ["k", "n_components", "l1_coef", "sparsity_target"])
def test_values_that_are_not_finite_are_refused_by_name(text, param):
    with pytest.raises(ValueError, match="takes finite numbers"):
        parse_values(text, param)


def test_finite_values_still_parse():
    assert parse_values("2, 4, 4.0", "k") == [2, 4] and parse_values("1e-4:1e-2:3", "l1_coef") == [1e-4, 1e-3, 1e-2]
