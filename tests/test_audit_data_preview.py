"""The Data page's Min and Max cells show their number whole in a cell a sixth of the page wide (at most 7
characters: '0.000191' was cut to '0.000...'), with the number to 6 digits in their help (views/data.py)."""

from __future__ import annotations

import io

import numpy as np

from app_support import messages, open_page


def test_min_and_max_fit_their_cells():
    X = np.random.default_rng(0).random((50, 10)).astype(np.float32)
    X[0, 0], X[1, 1] = -0.000191, 1234.5
    buffer = io.BytesIO()
    np.save(buffer, X)
    at = open_page("views/data.py")
    at.selectbox(key="data:name").set_value("Upload a file ...").run()
    at.file_uploader(key="data:upload").set_value(("wide.npy", buffer.getvalue(), "application/octet-stream")).run()
    assert not at.exception and not at.error, messages(at)
    cells = {m.label: (m.value, m.proto.help) for m in at.metric}
    assert cells["Min"] == ("-1.9e-4", "-0.000191") and cells["Max"] == ("1.23e3", "1234.5")
