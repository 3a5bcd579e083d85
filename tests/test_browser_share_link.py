"""Browser (Playwright, Debian's Chromium): a link with settings shows them in Train's widgets, a moved knob
survives a reload (a new session, set up from the address), and presenter mode at 1280x720 shows a larger atom
grid with the loss curve and the atoms in the window, without scrolling."""

from __future__ import annotations

import re

import pytest

from browser_support import (CHART, SCREENS, chromium, need_chromium, open_app, press, slider_keys,
                             streamlit_server, wait_until)

ATOMS = '[data-testid="stImage"] img'
K = "k (active codes per sample)"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    with streamlit_server(tmp_path_factory.mktemp("share-link") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


def slider_value(page, label: str) -> str:
    """The value the slider labelled ``label`` shows (its accessible text)."""
    return page.get_by_role("slider", name=label).get_attribute("aria-valuetext")


def model_shown(page) -> str:
    return page.get_by_role("combobox", name="Model").input_value()


def test_a_link_with_settings_shows_them_in_the_widgets(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = open_app(context, server, "train?model=sae-l1&p.n_components=32&p.batch_size=64")
    wait_until(lambda: model_shown(page) == "sae-l1", 30, "the linked model in the Model box")
    assert slider_value(page, "Atoms (n_components)") == "32"
    assert slider_value(page, "Batch size") == "64"
    context.close()


def address(page) -> str:
    """The address the page shows now (Playwright's page.url can lag behind a replaceState)."""
    return page.evaluate("location.href")


def address_k(page) -> str | None:
    found = re.search(r"[?&]p\.k=(\d+)(&|$)", address(page))
    return found[1] if found else None


def test_a_moved_knob_survives_a_reload(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = open_app(context, server, "train")
    assert slider_value(page, K) == "8" and address_k(page) is None  # the default is not in the address
    slider_keys(page, K, "ArrowLeft", "ArrowLeft", "ArrowLeft")
    moved = wait_until(lambda: address_k(page) not in (None, "8") and address_k(page) == slider_value(page, K)
                       and address_k(page), 60, "the moved k in the address")
    page.reload()  # a new Streamlit session: only the address remembers the setup
    page.locator(".device-badge").wait_for(timeout=90_000)
    wait_until(lambda: slider_value(page, K) == moved, 30, f"k = {moved} after the reload")
    assert address_k(page) == moved
    context.close()


def test_presenter_mode_at_1280x720_has_a_larger_grid_in_view(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = open_app(context, server, "train?present=1&p.max_steps=10000")
    assert page.get_by_role("switch", name="Presenter mode").is_checked()
    assert page.get_by_text("More settings").count() == 0 and page.get_by_text("Theory: what").count() == 0
    press(page, "Train")
    wait_until(lambda: page.locator(ATOMS).count(), 180, "the first atoms")
    page.mouse.move(1275, 715)  # no tooltip over the page
    page.wait_for_timeout(1500)
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / "presenter-1280x720.png"))
    grid, chart = page.locator(ATOMS).last.bounding_box(), page.locator(CHART).bounding_box()
    # both in the 720 pixels of the window, without scrolling
    assert grid["y"] + grid["height"] <= 720 and chart["y"] + chart["height"] <= 720, (grid, chart)

    page.get_by_text("Presenter mode").click()  # off: the same run, the usual layout
    wait_until(lambda: page.get_by_text("More settings").count(), 30, "More settings back")
    wait_until(lambda: "present=1" not in address(page), 30, "present=1 out of the address")
    usual = page.locator(ATOMS).last.bounding_box()
    assert grid["width"] > 1.3 * usual["width"], (grid, usual)
    press(page, "Stop")
    context.close()
