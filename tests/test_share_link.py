"""The setup in the address (ui.share_link): a link's settings appear in the widgets, moving a widget updates
the query parameters, bad values are ignored with one warning, and present=1 opens presenter mode."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from streamlit.testing.v1 import AppTest

from app_support import APP, app_state, labels
from ui import knobs

TRAIN, DATA = "views/train.py", "views/data.py"


def open_link(page: str, **query: str) -> AppTest:
    """A new session (as a shared link or a reload makes) of ``page`` with ``query`` in its address."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(page)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def value_of(widgets, label: str):
    (widget,) = [w for w in widgets if w.label == label]
    return widget.value


def copied_link(at: AppTest) -> dict[str, str]:
    """The query of the address in Train's Copy link box."""
    (code,) = at.code
    parts = urlsplit(code.value)
    assert parts.path.endswith("/train")
    return {key: values[-1] for key, values in parse_qs(parts.query).items()}


def test_a_links_settings_appear_in_the_train_widgets():
    query = {"data": "bars", "d.size": "6", "model": "sae-l1", "p.n_components": "32", "p.l1_coef": "0.01",
             "p.non_negative": "true"}
    at = open_link(TRAIN, **query)
    assert not at.warning
    assert value_of(at.selectbox, "Model") == "sae-l1"
    assert value_of(at.slider, "Atoms (n_components)") == 32
    assert value_of(at.select_slider, "L1 weight") == 0.01
    assert value_of(at.toggle, "Non-negative atoms") is True
    state = app_state(at)
    assert state.data.name == "bars" and state.data.options["size"] == 6
    assert state.dataset is not None and state.dataset.image_shape == (6, 6)
    # the address keeps exactly these (all differ from the defaults), and Copy link hands them out
    assert dict(at.query_params) == query
    assert copied_link(at) == query


def test_the_data_page_shows_the_linked_data_set_and_keeps_it():
    at = open_link(DATA, data="bars", **{"d.size": "6", "d.seed": "3", "d.scale": "minmax"})
    assert value_of(at.selectbox, "Data set") == "bars"
    assert value_of(at.number_input, "Size") == 6
    assert value_of(at.number_input, "Seed") == 3
    assert value_of(at.selectbox, "Scale") == "minmax"
    key = app_state(at).data.key
    at.run()  # the page's own widgets make the same choice: the data set is not replaced
    assert app_state(at).data.key == key
    assert at.query_params["d.size"] == "6" and at.query_params["d.scale"] == "minmax"


def test_moving_a_widget_updates_the_address_and_only_our_keys():
    at = open_link(TRAIN, other="kept")
    assert dict(at.query_params) == {"other": "kept"}  # every setting at its default: a short link
    next(s for s in at.slider if s.label.startswith("k (")).set_value(3).run()
    assert at.query_params["p.k"] == "3"
    at.selectbox(key="train:model").set_value("sae-l1").run()
    assert at.query_params["model"] == "sae-l1"
    assert "p.k" not in at.query_params  # sae-l1 has no k; its own settings are at their defaults
    at.select_slider(key="param:sae-l1:l1_coef").set_value(0.1).run()
    assert at.query_params["p.l1_coef"] == "0.1"
    at.select_slider(key="param:sae-l1:l1_coef").set_value(knobs.defaults("sae-l1")["l1_coef"]).run()
    assert "p.l1_coef" not in at.query_params  # back at its default: left out again
    assert at.query_params["other"] == "kept"
    assert copied_link(at) == {"model": "sae-l1"}  # the setup only


def test_bad_values_are_ignored_with_one_warning_naming_each():
    at = open_link(TRAIN, data="nowhere", model="sae-nothing", **{"p.k": "999", "p.batch_size": "many",
                                                                  "p.colour": "red", "present": "maybe"})
    (warning,) = at.warning
    text = warning.value
    assert "`data=nowhere` is not a built-in data set" in text and "used digits instead" in text
    assert "`model=sae-nothing` is not a model" in text and "used sae-topk instead" in text
    assert "`p.k=999` is out of range (1 to 64): used 8 (the default) instead" in text
    assert "`p.batch_size=many` is not a whole number: used 256" in text
    assert "`p.colour`: sae-topk has no setting 'colour': ignored" in text
    assert "`present=maybe`" in text
    assert value_of(at.selectbox, "Model") == "sae-topk"
    assert next(s for s in at.slider if s.label.startswith("k (")).value == 8
    assert dict(at.query_params) == {}  # the address now says what was used: the defaults
    at.run()
    assert len(at.warning) == 1  # still shown on this page until another page is chosen


def test_a_bad_data_option_is_named_and_the_rest_used():
    at = open_link(DATA, data="bars", **{"d.size": "-2", "d.shape": "round", "d.n_samples": "500"})
    (warning,) = at.warning
    assert "`d.size=-2` is below 1: used 8 (the default) instead" in warning.value
    assert "`d.shape`: bars has no option 'shape'" in warning.value
    assert app_state(at).data.options["n_samples"] == 500 and app_state(at).data.options["size"] == 8


def test_present_opens_presenter_mode_without_advanced_settings_or_theory():
    plain = open_link(TRAIN)
    assert value_of(plain.toggle, "Presenter mode") is False
    assert {"More settings", "Theory: what sae-topk optimises"} <= set(labels(plain.expander))
    presenting = open_link(TRAIN, present="1")
    assert value_of(presenting.toggle, "Presenter mode") is True
    assert not {"More settings", "Theory: what sae-topk optimises"} & set(labels(presenting.expander))
    assert presenting.query_params["present"] == "1"
    presenting.toggle(key="presenter").set_value(False).run()
    assert "present" not in presenting.query_params
    assert "More settings" in labels(presenting.expander)
