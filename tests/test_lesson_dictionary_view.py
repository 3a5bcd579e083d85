"""The dictionary lesson shows each true direction beside the learned atom matched to it, rows in the same order
and sign (issue 19: its atoms were unreadable strips), on Train under the lesson's measure."""

from __future__ import annotations

import numpy as np

from core import lessons, render
from core.lessons.pictures import matched_dictionary
from tests.app_support import app_state, elements, open_page
from ui.train_runner import widget_key

LESSON = "topk-recovers-a-dictionary"


def _unit(rows):
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_recovered_dictionary_is_drawn_as_two_identical_columns():
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((8, 16))
    order, signs = rng.permutation(8), rng.choice([-1.0, 1.0], 8)
    learned = np.vstack([3.0 * signs[:, None] * truth[order], rng.standard_normal((4, 16))])  # shuffled, flipped, spares
    picture, caption = matched_dictionary(truth, learned)
    expected = render.side_by_side(render.shared_scale_columns([_unit(truth), _unit(truth)], None, scale=6,
                                                               background="#d1d5db"),
                                   ["the 8 true directions", "the learned atom matched to each"])
    assert np.array_equal(np.asarray(picture), np.asarray(expected))
    assert "lowest 1.000" in caption and "4 spare atoms are not drawn" in caption


def test_train_shows_the_matched_dictionary_once_the_lessons_run_is_done(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{LESSON}").click().run()
    at.switch_page("views/train.py").run()  # AppTest reruns the page it was told, not the one switched to
    at.select_slider(key=widget_key("sae-topk", "max_steps")).set_value(50).run()
    next(button for button in at.button if button.label == "Train").click().run()
    app_state(at).job.wait(120)
    at.run()
    assert not at.exception
    (picture,) = [image for image in elements(at, "image") if "true direction i (left)" in image.proto.imgs[0].caption]
    assert "|cos| of the pairs" in picture.proto.imgs[0].caption
    assert "the picture puts each true direction beside the atom matched to it" in lessons.get(LESSON).look_for
