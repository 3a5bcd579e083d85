"""A one-run lesson's box on Train shows the lesson's own measure of the finished run, against the range the
paper's result implies (issue 19): what the text promises is read off the page, not only off the CLI."""

from __future__ import annotations

import pytest

from app_support import open_page
from core import lessons
from ui.train_runner import widget_key

LESSON = "linear-ae-is-pca"


@pytest.fixture(autouse=True)
def empty_run_store(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))


def _boxes(at) -> str:
    return " | ".join(str(box.value) for box in [*at.success, *at.warning])


def test_a_finished_lesson_run_is_measured_in_the_lesson_box():
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{LESSON}").click().run()
    at.switch_page("views/train.py").run()  # AppTest reruns the page it was told, not the one switched to
    assert "Measured on this run" not in _boxes(at)  # nothing trained yet
    at.select_slider(key=widget_key("linear-ae", "max_steps")).set_value(50).run()  # short: a wrong subspace
    next(b for b in at.button if b.label == "Train").click().run()
    state = at.session_state["_sae_nmf_explorer_state"]
    state.job.wait(120)
    at.run()
    assert not at.exception
    text = _boxes(at)
    assert "Measured on this run" in text and "MSE ratio to PCA" in text
    assert f"{lessons.get(LESSON).expected['mse_ratio_to_pca'][0]:g} to" in text
    shown = float(text.split("MSE ratio to PCA **")[1].split("**")[0])
    outcome = lessons.get(LESSON).measure(state.dataset, [state.job.model])
    assert shown == pytest.approx(outcome["mse_ratio_to_pca"], rel=1e-2)


def test_a_compare_lessons_box_on_train_names_the_run_the_knobs_are_set_for():
    at = open_page("views/home.py")
    at.button(key="lesson:open:autoencoder-grid").click().run()
    at.switch_page("views/compare.py").run()
    at.button(key="lesson:run:2").click().run()  # the ReLU without bias
    assert not at.exception
    text = " | ".join(str(box.value) for box in at.info)
    assert "The knobs are set for the **ReLU without bias**" in text
