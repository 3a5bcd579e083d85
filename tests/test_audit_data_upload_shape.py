"""The upload form's picture height and width apply to pictures only: a file guessed to hold vectors shows them
disabled as soon as it is read (they were drawn enabled, before the guess, and went grey, dropping what was
typed, at the next click); a file guessed to hold pictures keeps them open (views/data.py, ui.data_loading)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from app_support import app_state, messages, open_page

UPLOAD = "Upload a file ..."
SHAPE_BOXES = ("data:upload:h", "data:upload:w")


def _npy(columns: int) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(0).random((30, columns)).astype(np.float32))
    return buffer.getvalue()


@pytest.mark.parametrize("columns, kind", [(40, "vectors"), (64, "pictures")])
def test_the_size_boxes_follow_the_guess_from_the_first_draw(columns, kind):
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value(UPLOAD).run()
    at.file_uploader(key="data:upload").set_value((f"x{columns}.npy", _npy(columns), "application/octet-stream"))
    at.run()
    assert not at.exception and not at.error, messages(at)
    (samples_are,) = [radio for radio in at.radio if radio.label == "Samples are"]
    assert samples_are.value == kind
    assert [at.number_input(key=key).disabled for key in SHAPE_BOXES] == [kind == "vectors"] * 2
    assert (app_state(at).dataset.image_shape is None) == (kind == "vectors")
