"""One click on a point of the Sweep page's frontier opens its run: in Inspect, or in Compare beside the run
picked above the chart (issue 21: 'a click on any point opens that run'); by default a click shows its atoms."""

from __future__ import annotations

import json

import pytest

from app_support import elements, open_page
from core import datasets, models
from core.store import RunStore
from test_badge_sweep_inspect import _click


def save_trials(root) -> list:
    """Three saved trials of one sweep in the run store at ``root``, far apart on the frontier (k 2, 4, 6)."""
    store, ds = RunStore(root), datasets.load("digits")
    saved = []
    for k, l0, fvu in ((2, 2.0, 0.5), (4, 4.0, 0.3), (6, 6.0, 0.2)):
        model = models.create("sae-topk", n_components=8, k=k, max_steps=20, random_state=0, device="cpu").fit(ds.X)
        saved.append(store.save_run(model, dataset="digits", X=ds.X, image_shape=ds.image_shape, sweep="one-click",
                                    name=f"sae-topk k={k}", metrics={"l0": l0, "fvu": fvu, "mse": fvu / 10},
                                    extra={"sweep_param": "k", "sweep_value": k}))
    return saved


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    root = tmp_path_factory.mktemp("one-click") / "runs"
    saved = save_trials(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAE_EXPLORER_RUNS", str(root))
        yield saved


def _sweep_page():
    at = open_page("views/sweep.py")
    at.toggle(key="sweep:refs").set_value(False).run()
    return at


def test_a_click_opens_the_run_in_inspect_at_once(trials):
    at = _sweep_page()
    assert at.selectbox(key="sweep:click").value == "atoms"  # by default a click only shows the atoms
    at.selectbox(key="sweep:click").set_value("inspect").run()
    chart = elements(at, "plotly_chart")[0]
    hover = [text for trace in json.loads(chart.proto.spec)["data"] for text in trace.get("hovertext", [])]
    assert hover and all("click to open it in Inspect" in text for text in hover)  # the hover says what a click does
    _click(at, trials[1].id)
    assert not at.exception and [h.value for h in at.header] == ["Inspect"]
    assert at.selectbox(key="inspect:run").value == trials[1].id
    at.switch_page("views/sweep.py").run()  # back on Sweep: the chart's old click does not open it again
    assert not at.exception and [h.value for h in at.header] == ["Sweep"]
    assert at.selectbox(key="sweep:click").value == "inspect"  # the choice is kept across pages


def test_a_click_opens_the_run_in_compare_beside_the_run_picked_above_the_chart(trials):
    at = _sweep_page()
    at.selectbox(key="sweep:click").set_value("compare").run()
    at.selectbox(key="sweep:click-other").set_value(trials[0].id).run()
    _click(at, trials[0].id)  # the run itself: nothing to compare, it says so and stays
    assert not at.exception and [h.value for h in at.header] == ["Sweep"]
    assert "the run it would be compared with" in at.warning[0].value
    _click(at, trials[2].id)
    assert not at.exception and [h.value for h in at.header] == ["Compare"]
    assert (at.selectbox(key="compare:left").value, at.selectbox(key="compare:right").value) == \
        (trials[2].id, trials[0].id)


def test_by_default_a_click_shows_the_atoms_and_stays(trials):
    at = _sweep_page()
    _click(at, trials[2].id)
    assert not at.exception and [h.value for h in at.header] == ["Sweep"]
    assert at.selectbox(key="sweep:atoms").value == trials[2].id
