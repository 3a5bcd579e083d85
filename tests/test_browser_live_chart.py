"""Browser test of the live loss chart's marks and log scale: Debian's Chromium against `streamlit run`.

Arrow-key presses on a live slider within a second make one mark (not one per press); the log-scale toggle
changes the axis and is still on after a visit to another page. Screenshots go to /tmp/screens/.
"""

from __future__ import annotations

import pytest

from browser_support import (
    CHART, SCREENS, annotations, chromium, choose, loss_points, need_chromium, open_app, press, slider_keys,
    streamlit_server, wait_until,
)

pytestmark = pytest.mark.browser


def _described(page) -> str:
    return page.locator(CHART).get_attribute("aria-label") or ""


def test_held_arrow_keys_make_one_mark_and_the_log_scale_stays_on(tmp_path):
    need_chromium()
    SCREENS.mkdir(parents=True, exist_ok=True)
    with streamlit_server(tmp_path / "server.log") as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = open_app(context, url, "train")
        page.get_by_role("button", name="Train", exact=True).wait_for()
        choose(page, "Model", "sae-topk")
        slider_keys(page, "Steps", "End")
        wait_until(lambda: page.get_by_role("slider", name="Steps").get_attribute("aria-valuetext") == "10000",
                   10, "Steps moved to 10000")
        press(page, "Train")
        wait_until(lambda: loss_points(page) > 5, 90, "the run draws its first loss points")
        slider_keys(page, "k (active codes per sample)", *["ArrowLeft"] * 4)  # k: 8 -> 4, one press at a time
        wait_until(lambda: any(mark.startswith("k = 4 ") for mark in annotations(page)), 30,
                   "the presses are marked on the loss curve")
        marks = annotations(page)
        assert len(marks) == 1, marks  # one mark with the final value, not one per press
        page.get_by_text("Log scale").click()
        wait_until(lambda: "(log scale)" in _described(page), 15, "the y axis turns logarithmic")
        page.locator(CHART).screenshot(path=str(SCREENS / "train-live-chart-log.png"))
        page.get_by_role("link", name="Data").first.click()
        page.get_by_text("Ground-truth atoms").wait_for()
        page.get_by_role("link", name="Train").first.click()
        wait_until(lambda: "(log scale)" in _described(page), 20, "the log scale is still on after a page change")
        press(page, "Stop")
        context.close()
