"""The Data page's option widgets say what they do: for a generated set, Samples 0 means its default count (not
'all': there is no 'all' of generated data) and Seed seeds the generator; for a fixed set, 0 means all rows and
Seed picks the rows; option names read as words ('k' stays the k of k-sparse codes, 'Non-negative')."""

from __future__ import annotations

from app_support import open_page


def _data_page(name: str):
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value(name).run()
    assert not at.exception and not at.error
    return at


def test_a_generated_set_says_what_samples_0_and_seed_do_and_names_its_options_well():
    at = _data_page("sparse-synthetic")
    helps = {box.label: box.help for box in at.number_input}
    assert helps["Samples"] == "How many samples to generate (0 = the default, 5,000; otherwise at least 2)."
    assert helps["Seed"].startswith("Seeds the generator")
    assert {"N features", "N atoms", "k", "Noise"} <= set(helps)
    assert "Non-negative" in [toggle.label for toggle in at.toggle]


def test_a_fixed_set_says_0_is_all_and_seed_picks_the_rows():
    at = _data_page("digits")
    helps = {box.label: box.help for box in at.number_input}
    assert helps["Samples"] == "How many samples to use (0 = all; otherwise at least 2)."
    assert helps["Seed"] == "Which samples are drawn when fewer than all are used."
