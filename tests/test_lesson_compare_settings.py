"""Compare's side-by-side panel, opened from a lesson, trains the lesson's runs with all of their settings
(issue 19): the non-negative SAE of 'when-sae-and-nmf-agree' is non-negative and has no decoder bias, while
the atoms, k and steps the user sets on the panel still apply; with another SAE model, or the lesson
closed, the panel trains the model's defaults."""

from __future__ import annotations

import pytest

from app_support import open_page
from core import lessons, models

LESSON = "when-sae-and-nmf-agree"


@pytest.fixture(autouse=True)
def empty_run_store(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))


def _lesson_on_compare():
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{LESSON}").click().run()
    at.switch_page("views/compare.py").run()  # AppTest reruns the page it was told, not the one switched to
    return at


def _train(at) -> dict:
    """Press the panel's Train button; the models it submitted (not waiting for them to finish)."""
    at.button(key="compare:train").click().run()
    assert not at.exception and not at.error
    page = at.session_state["_compare_page"]
    submitted = {side: job.model for side, job in page.jobs.items()}
    for job in page.jobs.values():
        job.stop()
        job.wait(30)
    return submitted


def test_the_panel_trains_the_lessons_sae_with_all_its_settings_and_the_users_sizes():
    at = _lesson_on_compare()
    lesson_sae = lessons.get(LESSON).runs[1]
    note = " ".join(c.value for c in at.caption)
    assert f"Settings from the lesson *{lessons.get(LESSON).title}*" in note
    at.number_input(key="compare:n").set_value(12).run()  # the user's own choices on the panel
    at.number_input(key="compare:k").set_value(3).run()
    at.select_slider(key="compare:steps").set_value(50).run()
    submitted = _train(at)
    sae = submitted["sae"].get_params()
    assert sae["non_negative"] is True and sae["decoder_bias"] is False  # the lesson's, not the defaults
    assert sae["resample_dead"] is True and sae["batch_size"] == lesson_sae.params["batch_size"]
    assert (sae["n_components"], sae["k"], sae["max_steps"]) == (12, 3, 50)
    assert submitted["nmf"].get_params()["n_components"] == 12


def test_another_sae_model_or_a_closed_lesson_trains_the_defaults():
    at = _lesson_on_compare()
    defaults = models.default_params("sae-topk")
    at.selectbox(key="compare:sae").set_value("sae-batchtopk").run()
    assert not any("Settings from the lesson" in c.value for c in at.caption)
    at.selectbox(key="compare:sae").set_value("sae-topk").run()
    at.button(key="lesson:close").click().run()
    assert not any("Settings from the lesson" in c.value for c in at.caption)
    at.select_slider(key="compare:steps").set_value(50).run()
    sae = _train(at)["sae"].get_params()
    assert sae["non_negative"] == defaults["non_negative"] and sae["decoder_bias"] == defaults["decoder_bias"]


def test_two_saved_runs_shows_and_measures_the_open_lessons_runs_once_both_are_saved(tmp_path):
    from core import datasets
    from core.store import RunStore

    store = RunStore(tmp_path / "runs")
    ds = datasets.load("digits", scale="minmax")

    def save(name, **params):
        model = models.create(name, random_state=0, device="cpu", max_steps=20, **params).fit(ds.X)
        return store.save_run(model, dataset="digits", data_options={"scale": "minmax"}, X=ds.X,
                              image_shape=ds.image_shape)

    plain = save("ae", n_components=32)
    denoising = save("denoising-ae", n_components=32, noise="gaussian", noise_level=0.3)
    save("linear-ae", n_components=8)  # newest, another lesson's run on the same data
    at = open_page("views/home.py")
    at.button(key="lesson:open:denoising").click().run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    assert at.selectbox(key="compare:left").value == plain.id
    assert at.selectbox(key="compare:right").value == denoising.id
    measured = " ".join(str(box.value) for box in [*at.success, *at.warning])  # the lesson's own measure
    assert "Measured on these two runs" in measured and "Denoising gain **" in measured


def test_a_lesson_runs_button_brings_two_saved_runs_back_to_the_lessons_data():
    at = _lesson_on_compare()
    state = at.session_state["_sae_nmf_explorer_state"]
    at.session_state["compare:data"] = state.widgets["compare:data"] = "digits|"  # picked while none were saved
    at.button(key="lesson:run:0").click().run()
    assert state.widgets["compare:data"] == "swimmer|"


def test_a_lesson_the_panel_cannot_train_folds_the_panel_away():
    at = open_page("views/home.py")
    at.button(key="lesson:open:denoising").click().run()  # two autoencoders: not NMF and an SAE
    at.switch_page("views/compare.py").run()
    assert not at.exception
    assert at.expander[0].label == "Train NMF and an SAE side by side (not this lesson's runs)"
    assert not at.expander[0].proto.expanded
    at.button(key="lesson:close").click().run()
    assert "Train NMF and an SAE side by side (not this lesson's runs)" not in [e.label for e in at.expander]
