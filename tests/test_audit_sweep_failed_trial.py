"""A trial that fails on the Sweep page is named with its reason (issue 21: 'a failed trial is reported and
the others go on'), not only counted; the status line says its state once. It has no weights, so it is in no
store, but it is in the page's CSV and JSON exports with its reason, as the CLI prints it, not only in a warning
that the next sweep replaces."""

from __future__ import annotations

import csv
import io
import json

from app_support import open_page


def test_the_page_names_the_failed_trial_and_why_and_exports_it(tmp_path, monkeypatch, page_downloads):
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
    status = at.get("progress")[0].proto.text
    warnings = " ".join(w.value for w in at.warning)
    assert "pca · n_components=100" in warnings and "n_components=100 is more than" in warnings
    assert "n_components=4" not in warnings  # the trial that trained is not named as failed
    assert status.startswith("**Done** · 1 of 2 trials failed.")  # not "Done · Done. 1 of 2 ..."

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
