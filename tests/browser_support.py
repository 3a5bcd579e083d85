"""Helpers for the browser tests: a `streamlit run` server on a free port, Debian's Chromium, and
small readers of the page (loss points, the atom grid, the run's status line)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENS = Path("/tmp/screens")  # screenshots for people to look at; never in the repository

# The live loss chart is an ECharts canvas; its accessible name (ui.train_live.loss_chart) says what it shows:
# "MSE by training step: 73 logged points, the last at step 730: 0.009387; ...; changes marked: k = 7 at step 420."
CHART = '[data-testid="stEChartsChart"]'
LOSS_POINTS_JS = """() => {
    const chart = document.querySelector('%s');
    const found = chart && /(\\d+) logged points/.exec(chart.getAttribute('aria-label') || '');
    return found ? Number(found[1]) : -1;
}""" % CHART
ANNOTATIONS_JS = """() => {
    const chart = document.querySelector('%s');
    const found = chart && /changes marked: (.*)\\.$/.exec(chart.getAttribute('aria-label') || '');
    return found ? found[1].split('; ') : [];
}""" % CHART


def need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_process(log_path: Path, **env):
    """Run `streamlit run app.py` (as `make run` does) on a free port; yields (URL, pid), stops it afterwards."""
    log_path = Path(log_path)
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.headless", "true", "--server.address", "127.0.0.1"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **{k: str(v) for k, v in env.items()}})
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                        if response.read() == b"ok":
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.3)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def streamlit_server(log_path: Path, **env):
    """``streamlit_process`` when only its URL matters."""
    with streamlit_process(log_path, **env) as (url, _):
        yield url


def open_app(context, url: str, path: str = ""):
    """A new tab on ``url/path``, once the app's own navigation and the device badge are drawn."""
    page = context.new_page()
    page.goto(f"{url}/{path}")
    page.locator(".device-badge").wait_for(timeout=90_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Train", exact=True).wait_for()
    return page


@contextlib.contextmanager
def chromium():
    """Debian's Chromium driven by Playwright, headless, with the flags this machine needs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_until(predicate, timeout: float = 30.0, what: str = "condition", every: float = 0.2):
    """Poll ``predicate`` until it returns something true (returned); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s")


def wait_for_text(page, text: str, timeout: float) -> None:
    """Wait for ``text`` on ``page``; if it never comes, fail with what the page said instead (its progress
    bars, alerts and captions), so a CI log shows whether the run was slow, stuck or failed."""
    try:
        page.get_by_text(text).first.wait_for(timeout=timeout * 1000)
    except Exception as error:  # noqa: BLE001 - Playwright's TimeoutError, re-raised with the page's words
        said = page.locator('[data-testid="stProgress"], [data-testid="stAlert"], [data-testid="stCaptionContainer"]')
        raise AssertionError(f"{text!r} not shown within {timeout} s; the page said: "
                             f"{said.all_inner_texts()}") from error


def loss_points(page) -> int:
    return page.evaluate(LOSS_POINTS_JS)


def annotations(page) -> list[str]:
    return page.evaluate(ANNOTATIONS_JS)


def atoms_src(page) -> str | None:
    """The atom grid image's URL (a new one whenever the grid changes); None before the first atoms."""
    images = page.locator('[data-testid="stImage"] img')
    return images.last.get_attribute("src") if images.count() else None


def status(page) -> str:
    """The run's status line above the progress bar ('Training sae-topk on digits · step ...')."""
    return page.locator('[data-testid="stProgress"]').first.inner_text()


def choose(page, label: str, option: str, exact: bool = True) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (its whole text, or a part when not ``exact``)."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=exact).click()


def press(page, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()


def slider_keys(page, label: str, *keys: str) -> None:
    """Move the slider labelled ``label`` with the keyboard (ArrowLeft, End, ...)."""
    thumb = page.get_by_role("slider", name=label)
    thumb.focus()
    for key in keys:
        thumb.press(key)


def server_runs(page) -> str:
    return page.locator(".server-load").inner_text()
