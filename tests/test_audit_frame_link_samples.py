"""A link's sample count below what the loader takes (?d.n_samples=1) is one of the link's unused values, named
in its warning, and the data set loads with the default count, instead of the Data page opening on an error."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app_support import APP, app_state, messages
from core import datasets


def test_a_link_asking_for_one_sample_uses_the_default_and_says_so():
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/data.py")
    at.query_params.update({"data": "bars", "d.n_samples": "1"})
    at.run()
    assert not at.exception and not messages(at)
    warning = " ".join(str(w.value) for w in at.warning)
    assert "`d.n_samples=1` is not between 2 and 1,000,000" in warning
    assert app_state(at).dataset is not None and app_state(at).dataset.n_samples == datasets.DEFAULT_N_SAMPLES["bars"]


def test_a_refused_count_of_a_fixed_set_says_all_the_samples_are_used():
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/data.py")
    at.query_params.update({"data": "digits", "d.n_samples": "many"})
    at.run()
    warning = " ".join(str(w.value) for w in at.warning)
    assert "`d.n_samples=many` is not a whole number: used all the samples (the default) instead." in warning
    assert "used none" not in warning
