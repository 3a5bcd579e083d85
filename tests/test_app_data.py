"""AppTest: the home view and the Data page, for every data set (no browser needed)."""

from __future__ import annotations

import pytest

from app_support import app_state, elements, labels, messages, open_page
from core import datasets

OFFLINE_OK = set(datasets.ONLINE_DATASETS)  # need a download: an error in the page is fine offline


def test_home_says_what_the_app_is_for_and_links_to_the_pages():
    at = open_page()
    assert not at.exception
    assert at.title[0].value == "SAE/NMF Explorer"
    text = at.markdown[0].value
    assert "Data" in text and "Train" in text
    sidebar = " ".join(str(getattr(e, "value", "")) for e in at.sidebar)
    assert "sae-topk" in sidebar and "digits" in sidebar
    assert "device-badge" in sidebar and ("CPU" in sidebar or "GPU" in sidebar or "NVIDIA" in sidebar)


def test_the_server_freezes_its_startup_objects_so_full_collections_skip_them():
    """The app's first run moves the libraries' objects into the collector's permanent generation: a full
    collection (the GIL held, every tab stalled) no longer walks torch's classes and functions."""
    import gc

    import torch

    from ui import look

    at = open_page()
    assert not at.exception
    frozen = look.freeze_startup_objects()  # cached per process: what the app's first run froze
    assert frozen > 100_000 and gc.get_freeze_count() > 100_000  # (frozen objects can still be freed)
    assert not any(obj is torch.Tensor for obj in gc.get_objects())  # collections look at generations 0-2 only


def test_data_page_has_its_widgets_and_previews_digits():
    at = open_page("views/data.py")
    assert not at.exception
    assert {"Data set", "Scale"} <= set(labels(at.selectbox))
    assert {"Samples", "Seed"} <= set(labels(at.number_input))
    assert "Center" in labels(at.toggle)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Samples"] == "1,797" and metrics["Features"] == "64"
    assert metrics["Image shape"] == "8 x 8" and metrics["Non-negative"] == "yes"
    assert len(elements(at, "image")) == 1  # samples; digits has no ground-truth atoms
    assert app_state(at).dataset.name == "digits"


@pytest.mark.parametrize("name", datasets.available())
def test_data_page_renders_every_data_set(name):
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value(name).run()
    assert not at.exception
    state = app_state(at)
    assert state.data.name == name
    if name in OFFLINE_OK and state.dataset is None:
        assert "download" in messages(at)  # core's message, not a traceback
        return
    assert not at.error, messages(at)
    ds = state.dataset
    assert {m.label: m.value for m in at.metric}["Features"] == f"{ds.n_features:,}"
    pictures = elements(at, "image")
    assert len(pictures) == (2 if ds.truth is not None else 1)


def test_options_of_a_data_set_reach_core():
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("bars").run()
    at.number_input(key="data:bars:size").set_value(6).run()
    assert not at.exception
    assert app_state(at).dataset.image_shape == (6, 6)
    assert {m.label: m.value for m in at.metric}["Image shape"] == "6 x 6"


def test_bad_input_shows_cores_message_and_the_app_goes_on():
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("bars").run()
    at.number_input(key="data:bars:n_samples").set_value(2_000_000).run()  # (a 1 is raised to 2 by the page)
    assert not at.exception
    assert "is too many to generate" in messages(at)
    at.number_input(key="data:bars:n_samples").set_value(300).run()  # fixing it recovers
    assert not at.exception and not at.error
    assert app_state(at).dataset.n_samples == 300


def test_the_choice_survives_a_visit_to_another_page():
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("swimmer").run()
    at.switch_page("views/home.py").run()
    at.switch_page("views/data.py").run()
    assert at.selectbox(key="data:name").value == "swimmer"
    assert app_state(at).dataset.name == "swimmer"
