"""In a real browser, one click on a point of the Sweep page's frontier lands on Inspect with that run
(issue 21: 'a click on any point opens that run')."""

from __future__ import annotations

import pytest

from browser_support import SCREENS, chromium, choose, need_chromium, open_app, streamlit_server, \
    wait_until
from test_sweep_one_click import save_trials

pytestmark = pytest.mark.browser


def _point_centres(page) -> list[tuple[float, float]]:
    """The page's centre of each marker of the frontier's first curve (ordered by k)."""
    points = page.locator('.js-plotly-plot .scatterlayer .trace').first.locator(".points path")
    wait_until(lambda: points.count() == 3, 60, "the frontier's three points are drawn")
    boxes = [points.nth(i).bounding_box() for i in range(3)]
    return [(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2) for b in boxes]


def test_one_click_on_a_frontier_point_opens_that_run_in_inspect(tmp_path):
    need_chromium()
    trials = save_trials(tmp_path / "runs")
    with streamlit_server(tmp_path / "server.log", SAE_EXPLORER_RUNS=tmp_path / "runs") as url, \
            chromium() as browser:
        page = open_app(browser.new_context(viewport={"width": 1400, "height": 1300}), url, "sweep")
        page.get_by_text("Sparsity-fidelity frontier").wait_for(timeout=60_000)
        choose(page, "A click on a point", "opens it in Inspect")
        page.get_by_text("a click opens it in Inspect.").wait_for(timeout=30_000)  # the caption after the rerun
        SCREENS.joinpath("W").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / "W" / "sweep-click-choice.png"), full_page=True)
        x, y = _point_centres(page)[1]  # k = 4
        page.mouse.move(x, y)  # Plotly picks the point under the pointer on hover, then takes the click
        page.mouse.click(x, y)
        page.get_by_role("heading", name="Inspect").wait_for(timeout=60_000)
        run_picker = page.get_by_role("combobox", name="Run", exact=True)
        try:  # Inspect's run picker shows the run clicked, by its name (the others are k=2 and k=6)
            wait_until(lambda: run_picker.input_value().startswith(f"{trials[1].name} · "), 30,
                       "Inspect shows the clicked run (k=4)")
        finally:
            page.screenshot(path=str(SCREENS / "W" / "sweep-click-inspect.png"))
