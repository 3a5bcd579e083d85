"""Helpers for the AppTest tests of the Streamlit app (tests/test_app_*.py)."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
STATE_KEY = "_sae_nmf_explorer_state"  # ui.session keeps the AppState under this key


def open_page(page: str | None = None, timeout: float = 120) -> AppTest:
    """A fresh session of the app on ``page`` (e.g. 'views/train.py'), already run once."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if page:
        at.switch_page(page)
    at.run()
    return at


def app_state(at: AppTest):
    return at.session_state[STATE_KEY]


def elements(at: AppTest, kind: str) -> list:
    """Every element of type ``kind`` ('image', 'echarts_chart', 'download_button', ...) in the main area."""
    found = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            if child.type == kind:
                found.append(child)
            walk(child)

    walk(at.main)
    return found


def loss_option(at: AppTest) -> dict:
    """The live loss chart's ECharts option, as the browser gets it."""
    (chart,) = elements(at, "echarts_chart")
    return json.loads(chart.proto.spec)


def loss_curve(at: AppTest) -> dict:
    """The loss chart's curve: its steps (x) and values (y)."""
    points = loss_option(at)["series"][0]["data"]
    return {"x": [x for x, _ in points], "y": [y for _, y in points]}


def loss_marks(at: AppTest) -> list[str]:
    """The names of the loss chart's marks: the PCA reference and each live change ('k = 3')."""
    return [mark["name"] for mark in loss_option(at)["series"][0]["markLine"]["data"]]


def labels(widgets) -> list[str]:
    return [w.label for w in widgets]


def messages(at: AppTest) -> str:
    return " | ".join(str(e.value) for e in at.error)


def stop_job(at: AppTest) -> None:
    """End the session's run, so that tests never leave a job running (the job cap is per process)."""
    try:
        state = app_state(at)
    except KeyError:
        return
    if state.job is not None:
        state.stop_job()
        state.job.wait(30)


def capture_downloads(patch) -> dict:
    """What each download button drawn from now on would send, by file name (AppTest cannot click one): the
    bytes of a button made with its data, the function making them of one made when clicked. ``patch`` is a
    pytest MonkeyPatch (its undo ends the capture)."""
    made: dict = {}
    original_add, original_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def add(self, path_or_data, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = path_or_data
        return original_add(self, path_or_data, mimetype, coordinates, file_name, **kwargs)

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = data_callable
        return original_deferred(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    patch.setattr(MediaFileManager, "add", add)
    patch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return made


def save_on_digits(root, model):
    """``model`` fitted on digits and saved in the run store at ``root``, as a page would save it; its record."""
    from core import datasets
    from core.store import RunStore

    ds = datasets.load("digits")
    return RunStore(root).save_run(model.fit(ds.X), dataset="digits", X=ds.X, image_shape=ds.image_shape)
