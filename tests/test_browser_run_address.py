"""Browser tests of a run's address (?run=<id>): Debian's Chromium (Playwright) against `streamlit run app.py`.

The starting tab reloads mid-run and finds the same run going on (its step keeps growing, Stop still
works); a second browser context opening the tab's address without its key watches the same run live
and has no Stop; once the run has ended its link opens it, ended, with its final curve and atoms.
Screenshots go to /tmp/screens/ (never into the repository).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from browser_support import (SCREENS, chromium, loss_points, need_chromium, open_app, press, slider_keys, status,
                             streamlit_server, wait_until)

pytestmark = pytest.mark.browser
PROGRESS_TIMEOUT = 90  # a generous bound on a condition on 2 shared cores, not a speed target
STEP_RE = re.compile(r"step ([\d,]+) /")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with streamlit_server(log, SAE_EXPLORER_MAX_JOBS=2) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as launched:
        yield launched


def _step(page) -> int:
    found = STEP_RE.search(status(page))
    return int(found.group(1).replace(",", "")) if found else -1


def _query(page) -> dict[str, str]:
    # location.href: Playwright's page.url can lag behind Streamlit's replaceState of the query string
    return {k: v[0] for k, v in parse_qs(urlsplit(page.evaluate("location.href")).query).items()}


def _grows_past(page, step: int, what: str) -> int:
    return wait_until(lambda: (s := _step(page)) > step and s, PROGRESS_TIMEOUT, what)


def _wait_for_app(page) -> None:
    page.locator(".device-badge").wait_for(timeout=90_000)


def test_reload_watch_and_reopen_one_run(server, browser):
    owner = open_app(browser.new_context(viewport={"width": 1400, "height": 1000}), server, "train")
    # slow enough to outlast a reload and a second browser: the most steps, the largest batches
    slider_keys(owner, "Steps", "End")
    slider_keys(owner, "Batch size", "End")
    press(owner, "Train")
    started = _grows_past(owner, 0, "the run logs its first steps")
    run_id = wait_until(lambda: _query(owner).get("run"), 20, "the address names the run")
    assert _query(owner).get("key"), "the starting tab's address holds the run's key"

    owner.reload()
    _wait_for_app(owner)
    after_reload = _grows_past(owner, started, "the reloaded tab shows the same run going on")
    assert _query(owner)["run"] == run_id and "Training" in status(owner)
    _grows_past(owner, after_reload, "its curve keeps growing after the reload")
    assert owner.get_by_role("button", name="Stop", exact=True).is_enabled()

    watch_query = {k: v for k, v in _query(owner).items() if k != "key"}
    viewer = open_app(browser.new_context(viewport={"width": 1400, "height": 1000}), server,
                      f"train?{urlencode(watch_query)}")
    seen = _grows_past(viewer, 0, "the second browser sees the run")
    _grows_past(viewer, seen, "the second browser watches it live")
    assert viewer.get_by_text("Watching").count() >= 1
    assert viewer.get_by_role("button", name="Stop", exact=True).count() == 0  # it cannot stop the run
    assert viewer.get_by_role("slider", name="Steps").is_disabled()
    assert "key" not in _query(viewer)
    viewer.screenshot(path=str(SCREENS / "train-run-watched.png"), full_page=True)
    owner.screenshot(path=str(SCREENS / "train-run-owner.png"), full_page=True)

    press(owner, "Stop")
    wait_until(lambda: "Stopped" in status(owner), PROGRESS_TIMEOUT, "the owner's Stop ends the run")
    wait_until(lambda: "Stopped" in status(viewer), PROGRESS_TIMEOUT, "the viewer sees it end")
    final = _step(owner)
    reopened = open_app(browser.new_context(viewport={"width": 1400, "height": 1000}), server,
                        f"train?{urlencode(watch_query)}")
    wait_until(lambda: "Stopped" in status(reopened), 30, "the ended run's link opens it")
    assert _step(reopened) == final
    wait_until(lambda: loss_points(reopened) > 0, 30, "its final loss curve is drawn")
    # its final atoms (drawn in the same rerun as the curve, but the browser may show them a moment later)
    wait_until(lambda: reopened.locator('[data-testid="stImage"] img').count() >= 1, 30, "its final atoms")
    reopened.screenshot(path=str(SCREENS / "train-run-reopened.png"), full_page=True)
    for page in (owner, viewer, reopened):
        page.context.close()
