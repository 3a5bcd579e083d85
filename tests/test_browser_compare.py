"""Browser test: Debian's Chromium (Playwright) against `streamlit run app.py`: on swimmer, "Train NMF and
SAE side by side", see the matched pairs, download the comparison PNG; then a short sweep and the
Inspect page. Screenshots of the three pages go to /tmp/screens/ (never into the repository)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from browser_support import chromium, SCREENS, choose, need_chromium, open_app, slider_keys, \
    streamlit_server, wait_for_text, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    folder = tmp_path_factory.mktemp("compare-browser")
    with streamlit_server(folder / "server.log", SAE_EXPLORER_RUNS=folder / "runs") as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as launched:
        yield launched


def _metric(page, label: str) -> str | None:
    for text in page.locator('[data-testid="stMetric"]').all_inner_texts():
        if text.startswith(label):
            return text[len(label):].strip()
    return None


def test_side_by_side_on_swimmer_pairs_atoms_and_downloads_the_comparison(browser, server):
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = open_app(context, server, "data")
    choose(page, "Data set", "swimmer:", exact=False)
    page.get_by_text("Ground-truth atoms").wait_for(timeout=30_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Compare", exact=True).click()
    page.get_by_text("No saved runs yet").wait_for(timeout=30_000)
    slider_keys(page, "Steps (both runs)", "Home", "ArrowRight", "ArrowRight")  # 200 steps
    wait_until(lambda: page.get_by_role("slider", name="Steps (both runs)").get_attribute("aria-valuetext") == "200",
               10, "Steps moved to 200")
    page.get_by_role("button", name="Train NMF and SAE side by side").click()
    wait_until(lambda: page.get_by_text("Live:").count() or _metric(page, "Matched pairs"), 60,
               "the two runs train live, paired")
    wait_until(lambda: _metric(page, "Matched pairs") == "17", 120, "17 matched pairs once both runs are saved")
    assert page.get_by_text("Traceback").count() == 0
    # once saved, the two new runs become the compared ones (the page may still be redrawing)
    wait_until(lambda: page.get_by_text("Left: nmf (17) side by side (nmf)").count() == 1, 30, "the new NMF run on the left")
    wait_until(lambda: page.get_by_text("Right: sae-topk (17) side by side (sae-topk)").count() == 1, 30,
               "the new SAE run on the right")
    wait_until(lambda: page.get_by_text("Saving both runs").count() == 0, 30, "the live panel settles")
    page.get_by_text("Samples 0, 51").wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SCREENS / "compare.png"), full_page=True)
    page.get_by_text("Reconstructions").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENS / "compare-metrics.png"))

    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="Comparison (PNG)").click()
    data = open(download.value.path(), "rb").read()
    picture = Image.open(io.BytesIO(data))
    picture.verify()
    assert picture.format == "PNG" and download.value.suggested_filename.endswith("-comparison.png")
    picture = Image.open(io.BytesIO(data))
    assert picture.width > 300 and picture.height > 200

    page.locator('[data-testid="stSidebarNav"]').get_by_text("Sweep", exact=True).click()
    page.get_by_role("button", name="Start sweep").wait_for(timeout=30_000)
    slider_keys(page, "Steps per run", "Home")  # 50 steps
    values = page.get_by_role("textbox", name="Values")
    values.fill("2, 4, 8")
    values.press("Enter")
    atoms = page.get_by_role("spinbutton", name="Atoms (n_components)")
    atoms.fill("12")
    atoms.press("Enter")
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Start sweep").click()
    trials = page.get_by_role("tab", name="Trials")
    trials.wait_for(timeout=180_000)
    trials.click()  # the trials table and its exports are on the Trials tab
    wait_for_text(page, "Every trial (CSV)", 180)
    page.wait_for_timeout(800)
    page.screenshot(path=str(SCREENS / "sweep.png"), full_page=True)

    page.locator('[data-testid="stSidebarNav"]').get_by_text("Inspect", exact=True).click()
    page.get_by_text("Top-activating samples").wait_for(timeout=60_000)
    page.wait_for_timeout(800)
    page.screenshot(path=str(SCREENS / "inspect.png"), full_page=True)
    page.get_by_role("tab", name="Sample").click()
    page.get_by_text("Its top atoms, with their weights").wait_for(timeout=30_000)
    page.screenshot(path=str(SCREENS / "inspect-sample.png"), full_page=True)
    assert page.get_by_text("Traceback").count() == 0
    context.close()
