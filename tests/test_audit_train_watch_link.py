"""The Train page's 'Link to watch this run' shows the knobs as they are now: moving a live knob reruns the page,
but the address (which the link was copied from) is written only after the page has run, so the link showed
the value from before the move (k = 9 beside a slider at 10) (ui.run_address.watch_link)."""

from __future__ import annotations

from app_support import app_state, open_page, stop_job


def _link(at) -> str:
    (line,) = [c.value for c in at.caption if c.value.startswith("Link to watch this run")]
    return line


def test_the_watch_link_follows_a_live_knob_at_once():
    at = open_page("views/train.py")
    at.select_slider(key="param:sae-topk:max_steps").set_value(10000).run()
    next(b for b in at.button if b.label == "Train").click().run()
    try:
        job = app_state(at).job
        assert f"run={job.run_id}" in _link(at) and "p.k=" not in _link(at)  # k at its default
        at.slider(key="param:sae-topk:k").set_value(10).run()
        assert job.params["k"] == 10 and "p.k=10" in _link(at), _link(at)
        assert "key=" not in _link(at)  # the link watches: it never holds the run's key
    finally:
        stop_job(at)
