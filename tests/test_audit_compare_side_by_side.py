"""Compare's side-by-side panel says when the SAE's k is more than its atoms: it trains with k = atoms
(``ui.compare_live.sae_params``) while the box still showed the larger k."""

from __future__ import annotations

from app_support import open_page
from ui import compare_live


def test_a_k_above_the_atoms_is_said_to_be_capped(tmp_path, monkeypatch):
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    at = open_page("views/compare.py")
    at.number_input(key="compare:n").set_value(12).run()
    at.number_input(key="compare:k").set_value(8).run()
    assert not any(c.value.startswith("k is at most") for c in at.caption)
    at.number_input(key="compare:n").set_value(4).run()
    assert not at.exception and not at.error
    assert "k is at most the number of atoms: the SAE trains with k = 4." in [c.value for c in at.caption]
    assert compare_live.sae_params("sae-topk", 4, 50, 8)["k"] == 4  # what it trains with
