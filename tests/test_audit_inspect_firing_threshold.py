"""Inspect's feature card counts a firing as the feature table does: above the model's activity threshold.

A sigmoid SAE (sae-kl) codes every sample above 0, and counts a latent as firing above 0.5
(``metrics.activity_threshold``). The card's caption ("Fires on 13.6% of samples"), its activation histogram
("... on 245 of 1,797 samples"), its density histogram (dead features) and its examples "where it fires" must
agree; they used to count every non-zero code (1,797 of 1,797 samples, no feature dead) beside a caption that
used the threshold.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from app_support import elements, open_page
from core import datasets, metrics, models
from core.analysis.features import quantile_examples
from core.store import RunStore


@pytest.fixture(scope="module")
def sigmoid_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("firing-threshold") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAE_EXPLORER_RUNS", str(root))
        ds = datasets.load("digits")
        model = models.create("sae-kl", n_components=8, max_steps=40, random_state=0, device="cpu").fit(ds.X)
        record = RunStore(root).save_run(model, dataset="digits", X=ds.X, image_shape=ds.image_shape)
        at = open_page("views/inspect.py")
        at.selectbox(key="inspect:run").set_value(record.id).run()
        assert not at.exception and not at.error, at.exception or at.error
        yield at, model.transform(ds.X)


def _values(encoded) -> np.ndarray:
    """A plotly trace's array: a list, or numpy's bytes as plotly sends them (dtype and base64 'bdata')."""
    if isinstance(encoded, dict):
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"])
    return np.asarray(encoded)


def _chart_title(at, key: str) -> str:
    (chart,) = [c for c in elements(at, "plotly_chart") if c.proto.id.endswith(key)]
    return json.loads(chart.proto.spec)["layout"]["title"]["text"]


def test_the_activation_histogram_counts_the_firings_the_caption_counts(sigmoid_run):
    at, codes = sigmoid_run
    density = metrics.feature_density(codes, 0.5)[0]
    assert 0 < density < 1  # the threshold matters for this run: every code is above 0
    (caption,) = [c.value for c in at.caption if c.value.startswith("Fires on")]
    assert caption.startswith(f"Fires on {density:.1%} of samples")
    fired, total = (int(n.replace(",", "")) for n in
                    re.search(r"on ([\d,]+) of ([\d,]+) samples", _chart_title(at, "inspect:activations")).groups())
    assert (fired, total) == (int(round(density * len(codes))), len(codes))


def test_the_density_histogram_uses_the_threshold(sigmoid_run):
    at, codes = sigmoid_run
    (chart,) = [c for c in elements(at, "plotly_chart") if c.proto.id.endswith("inspect:density")]
    bars = json.loads(chart.proto.spec)["data"][0]
    live = metrics.feature_density(codes, 0.5)
    counts = _values(bars["y"])
    assert counts.sum() == np.count_nonzero(live)
    # every feature fires on well under all samples: no bar in the last bin (density 1, log10 = 0)
    assert counts[-1] == 0
    assert "red" in _chart_title(at, "inspect:density")
    assert "#e15759" in bars["marker"]["color"]  # this feature's bar is marked


def test_examples_where_it_fires_are_above_the_threshold():
    codes = np.array([[0.1, 0.0], [0.6, 0.0], [0.9, 0.0], [0.3, 0.0]])
    examples = quantile_examples(codes, 0, per_quantile=1, threshold=0.5)
    assert {int(i) for e in examples for i in e.indices} == {1, 2}
    assert quantile_examples(codes, 0, threshold=0.95) == []
    assert quantile_examples(codes, 1) == []
