"""A failed trial (no weights, so in no store) is in the Sweep page's CSV and JSON exports with its reason, as
the CLI prints it, not only in a warning that the next sweep replaces (issue 21)."""

from __future__ import annotations

import csv
import io
import json

from app_support import open_page


def test_the_exports_hold_the_failed_trial_and_why(tmp_path, monkeypatch, page_downloads):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    at = open_page("views/sweep.py")
    at.selectbox(key="sweep:param").set_value("n_components").run()
    at.text_input(key="sweep:values:n_components").set_value("4, 100").run()  # digits has 64 features
    at.multiselect(key="sweep:models:n_components").set_value(["pca"]).run()
    at.toggle(key="sweep:refs").set_value(False).run()
    at.button(key="sweep:start").click().run()
    assert not at.exception and not at.error
    assert at.session_state["_sweep_page"].job.wait(120)
    at.run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 1  # the table: the saved trial
    table = list(csv.DictReader(io.StringIO(page_downloads["sweep-trials.csv"].decode())))
    assert [row["status"] for row in table] == ["finished", "failed"]
    assert table[1]["n_components"] == "100" and "n_components=100 is more than" in table[1]["error"]
    assert table[1]["run_id"] == "" and table[1]["fvu"] == ""
    trials = json.loads(page_downloads["sweep-trials.json"])
    assert [t["status"] for t in trials] == ["finished", "failed"]
    assert trials[1]["params"]["n_components"] == 100 and trials[1]["dataset"] == "digits"
    assert "n_components=100 is more than" in trials[1]["error"]
    assert "1 failed trial (no weights, so not in the table) is in the exports" in " ".join(c.value for c in at.caption)
