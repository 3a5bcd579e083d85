"""Lessons on Home (issue 19): a card per lesson; Open sets up Train or Compare for it and shows what to look for."""

from __future__ import annotations

import pytest

from core import lessons
from tests.app_support import app_state, open_page
from ui.train_runner import widget_key


@pytest.fixture(autouse=True)
def empty_run_store(tmp_path, monkeypatch):
    # Compare's "Two saved runs" offers the data sets that have runs: with other tests' runs in a shared
    # store the lesson's choice would fall back to theirs; each test here starts from an empty store
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))


def _open(name: str):
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{name}").click().run()
    return at


def _info_text(at) -> str:
    return " | ".join(str(box.value) for box in at.info)


def test_home_lists_every_lesson_with_an_open_button():
    at = open_page("views/home.py")
    assert not at.exception
    text = " ".join(str(m.value) for m in at.markdown)
    for name in lessons.names():
        assert lessons.get(name).title in text
        assert at.button(key=f"lesson:open:{name}").label == "Open"


def test_opening_a_train_lesson_sets_up_train_with_its_model_data_and_knobs():
    lesson = lessons.get("linear-ae-is-pca")
    at = _open(lesson.name)
    assert not at.exception
    assert at.selectbox(key="train:model").value == "linear-ae"  # on Train, its model chosen
    state = app_state(at)
    assert state.data.name == "digits" and state.data.options == {"scale": "minmax"}
    assert state.dataset is not None and state.dataset.X.max() <= 1.0  # reloaded with the lesson's options
    assert at.slider(key=widget_key("linear-ae", "n_components")).value == 8
    assert at.select_slider(key=widget_key("linear-ae", "max_steps")).value == 2000
    assert lesson.look_for in _info_text(at) and lesson.paper in _info_text(at)


def test_opening_a_compare_lesson_sets_up_compare_and_the_box_can_be_closed():
    lesson = lessons.get("when-sae-and-nmf-agree")
    at = _open(lesson.name)
    assert not at.exception
    assert at.number_input(key="compare:n").value == 17  # on Compare, the panel set for NMF and the TopK SAE
    assert at.selectbox(key="compare:sae").value == "sae-topk"
    assert at.number_input(key="compare:k").value == 5
    assert app_state(at).data.name == "swimmer"
    assert app_state(at).widgets["compare:data"] == "swimmer|"  # Two saved runs: the lesson's data set's runs
    assert lesson.look_for in _info_text(at) and lesson.paper in _info_text(at)
    assert "non-negative" in _info_text(at)  # its settings the panel does not take are named
    at.switch_page("views/compare.py")  # AppTest reruns the page it was told, not the one the app switched to
    at.button(key="lesson:close").click().run()
    assert [header.value for header in at.header] == ["Compare"]
    assert lesson.look_for not in _info_text(at) and app_state(at).lesson is None


def test_a_compare_lessons_run_opens_on_train_with_its_settings_that_the_panel_lacks():
    at = _open("when-sae-and-nmf-agree")
    at.switch_page("views/compare.py")  # AppTest reruns the page it was told, not the one the app switched to
    at.button(key="lesson:run:1").click().run()  # the non-negative TopK SAE
    assert not at.exception
    assert at.selectbox(key="train:model").value == "sae-topk"
    assert at.toggle(key=widget_key("sae-topk", "non_negative")).value is True
    assert at.toggle(key=widget_key("sae-topk", "decoder_bias")).value is False
    assert at.slider(key=widget_key("sae-topk", "n_components")).value == 17
    assert app_state(at).params["sae-topk"]["batch_size"] == 64
    assert "Lesson: When a sparse autoencoder learns what NMF learns" in _info_text(at)


def test_training_a_lessons_run_lets_compare_pick_its_runs_afresh():
    at = _open("eigenfaces-vs-nmf-parts")
    state = app_state(at)
    state.widgets["compare:left"] = state.widgets["compare:right"] = "an-earlier-pick"
    at.switch_page("views/compare.py")  # AppTest reruns the page it was told, not the one the app switched to
    at.button(key="lesson:run:1").click().run()  # the PCA
    assert at.selectbox(key="train:model").value == "pca"
    assert "compare:left" not in state.widgets and "compare:right" not in state.widgets
