"""A lesson's run set up on Train trains what the lesson's headless run (its card, its tested outcome) trains.
Before, Train started from its own defaults where a lesson run leaves a parameter unset: the denoising lesson's
autoencoders trained with ReLU for 1000 steps on the page but sigmoid for 2000 steps headless, and the
autoencoder grid's four runs for 1000 steps instead of 2000."""

from __future__ import annotations

import pytest

from core import lessons
from tests.app_support import app_state, open_page


@pytest.mark.parametrize(("name", "index"), [("denoising", 0), ("denoising", 1), ("autoencoder-grid", 1)])
def test_train_gets_every_parameter_of_the_headless_run(name, index):
    run = lessons.get(name).runs[index]
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{name}").click().run()
    at.switch_page("views/compare.py").run()  # AppTest reruns the page it was told, not the one the app switched to
    at.button(key=f"lesson:run:{index}").click().run()
    at.switch_page("views/train.py").run()
    assert not at.exception
    assert app_state(at).params[run.model] == run.create().get_params()
