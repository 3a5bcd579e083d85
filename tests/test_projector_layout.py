"""Browser test: the app on a projector (1024 x 768). The key buttons and figures of Home, Data and Train keep
their whole labels: no 'C...' for Copy link, no icon-only Train, no '1,...' for 1,797 samples. A label is cut
when its text box is narrower than its text (Streamlit ends it with an ellipsis)."""

from __future__ import annotations

import pytest

from browser_support import chromium, need_chromium, open_app, streamlit_server
from core import datasets, models
from core.jobs.saving import save_sweep_point
from core.store import RunStore
from core.sweep import Sweep, SweepConfig

pytestmark = pytest.mark.browser

# the texts in ``selector`` whose box is narrower than the text (scrollWidth > clientWidth): cut labels
CUT_TEXTS_JS = """(selector) => {
    const cut = [];
    for (const host of document.querySelectorAll(selector)) {
        for (const el of [host, ...host.querySelectorAll('*')]) {
            const text = (el.innerText || '').trim();
            if (text && el.getBoundingClientRect().width > 0 && el.scrollWidth > el.clientWidth + 1) {
                cut.push(text);
            }
        }
    }
    return cut;
}"""
BUTTONS = '[data-testid="stMain"] button, [data-testid="stMain"] [data-testid="stPageLink"]'
FIGURES = '[data-testid="stMain"] [data-testid="stMetric"]'


def _save_two_runs(root) -> None:
    """Two small NMF runs on digits in the run store, for Compare's 'Two saved runs' boxes, and a sweep of two
    trials for the Sweep page's run panel."""
    digits = datasets.load("digits")
    store = RunStore(root)
    for steps in (5, 10):
        model = models.create("nmf", n_components=4, max_steps=steps, random_state=0).fit(digits.X)
        store.save_run(model, dataset="digits", name="nmf", X=digits.X, image_shape=digits.image_shape)
    sweep = Sweep(SweepConfig(model="sae-topk", grid={"k": [2, 4]}, base_params={"n_components": 6, "max_steps": 5}))
    sweep.run(digits.X)
    for point in sweep.points:
        save_sweep_point(store, sweep, point, dataset="digits", X=digits.X, image_shape=digits.image_shape,
                         group=sweep.id)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    folder = tmp_path_factory.mktemp("projector")
    _save_two_runs(folder / "runs")
    with streamlit_server(folder / "server.log", SAE_EXPLORER_RUNS=folder / "runs") as url:
        yield url


@pytest.fixture(scope="module")
def projector(server):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1024, "height": 768})
        yield context
        context.close()


def _cut(page, selector: str) -> list[str]:
    return page.evaluate(CUT_TEXTS_JS, selector)


def test_home_start_links_are_whole_at_1024(server, projector):
    page = open_app(projector, server)
    page.get_by_text("Start training", exact=True).wait_for()
    assert _cut(page, BUTTONS) == []


def test_train_stop_and_copy_link_are_whole_at_1024(server, projector):
    page = open_app(projector, server, "train")
    for label in ("Train", "Stop"):
        page.get_by_role("button", name=label, exact=True).wait_for()
    page.get_by_text("Copy link", exact=True).first.wait_for()
    top_buttons = [text for text in _cut(page, BUTTONS) if text in ("Train", "Stop", "Copy link")]
    assert top_buttons == []


def test_data_figures_are_whole_at_1024_and_800(server, projector):
    page = open_app(projector, server, "data")
    page.locator(FIGURES).first.wait_for()
    assert _cut(page, FIGURES) == []
    page.set_viewport_size({"width": 800, "height": 768})
    page.wait_for_timeout(500)
    assert _cut(page, FIGURES) == []


def test_compare_train_and_stop_are_whole_at_1024_and_800(server, projector):
    page = open_app(projector, server, "compare")
    page.get_by_role("button", name="Stop", exact=True).wait_for()
    assert _cut(page, BUTTONS) == []
    page.set_viewport_size({"width": 800, "height": 768})
    page.wait_for_timeout(500)
    start_stop = ("Train NMF and SAE side by side", "Stop")
    assert [text for text in _cut(page, BUTTONS) if text in start_stop] == []


def test_train_live_figures_are_whole_at_1024(server, projector):
    page = open_app(projector, server, "train")
    page.locator(FIGURES).first.wait_for()
    assert _cut(page, FIGURES) == []


def test_train_knob_toggles_are_whole_at_1024(server, projector):
    page = open_app(projector, server, "train")
    page.get_by_text("Non-negative atoms", exact=True).first.wait_for()
    assert _cut(page, '[data-testid="stMain"] [data-testid="stCheckbox"]') == []


# the selectboxes whose shown choice is longer than its box
CUT_CHOICES_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stSelectbox"] input')]
    .filter(box => box.scrollWidth > box.clientWidth + 1).map(box => box.value)"""


def test_compare_saved_run_labels_are_whole_at_1024(server, projector):
    page = open_app(projector, server, "compare")
    page.get_by_role("combobox", name="Right run").wait_for()
    assert page.evaluate(CUT_CHOICES_JS) == []


@pytest.mark.parametrize("path, label",
                         [("inspect", "Feature table (CSV)"), ("compare", "Right weights (safetensors)")])
def test_export_buttons_are_whole_at_1024(server, projector, path, label):
    page = open_app(projector, server, path)
    page.get_by_text(label, exact=True).first.wait_for(timeout=60_000)
    assert _cut(page, BUTTONS) == []


def test_sweep_start_stop_and_run_panel_are_whole_at_1024_and_800(server, projector):
    page = open_app(projector, server, "sweep")
    page.get_by_role("button", name="Open both in Compare").wait_for(timeout=60_000)
    assert _cut(page, BUTTONS) == []
    page.set_viewport_size({"width": 800, "height": 768})
    page.wait_for_timeout(500)
    start_stop = ("Start sweep", "Stop")
    assert [text for text in _cut(page, BUTTONS) if text in start_stop] == []
