"""The live chart's dashed PCA line is a per-number squared error: it is drawn on the MSE curve only. On a
model's Loss curve it stood in other units (sae-kl's loss is CS294A's half the squared error summed over a
sample's features, 32 times the MSE on digits, plus its penalty), where it looked like a floor far below."""

from __future__ import annotations

from types import SimpleNamespace

from core import datasets, metrics, models
from ui import train_live


def test_the_pca_line_is_drawn_on_the_mse_curve_only():
    X = datasets.load("digits", n_samples=300).X
    model = models.create("sae-kl", n_components=16, max_steps=20, log_every=5, random_state=0, device="cpu")
    model.fit(X)
    reference = float(metrics.pca_mse(X, 16))
    last = model.history_[-1]
    assert last["loss"] > 10 * last["mse"]  # the loss is in other units than the PCA error
    snap = SimpleNamespace(history=list(model.history_), reference_mse=reference, params={"n_components": 16},
                           events=[], step=last["step"], active=False)
    lines = {}
    for curve in ("MSE", "Loss"):
        option, described = train_live.loss_chart(snap, curve)
        lines[curve] = [m["yAxis"] for m in option["series"][0]["markLine"]["data"] if "yAxis" in m]
        assert ("PCA error" in described) == (curve == "MSE"), described
    assert lines == {"MSE": [reference], "Loss": []}


def test_a_lone_point_is_drawn_as_a_dot():
    """PCA's whole curve is one point (step 1), as is any run's at its first logged step: a line without
    symbols draws nothing for it, while the MSE cell beside shows its value."""
    one = SimpleNamespace(history=[{"step": 1, "loss": 0.011, "mse": 0.011}], reference_mse=0.011,
                          params={"n_components": 16}, events=[], step=1, active=False)
    two = SimpleNamespace(history=[*one.history, {"step": 2, "loss": 0.01, "mse": 0.01}], reference_mse=0.011,
                          params={"n_components": 16}, events=[], step=2, active=False)
    shown = {len(snap.history): train_live.loss_chart(snap, "MSE")[0]["series"][0]["showSymbol"] for snap in (one, two)}
    assert shown == {1: True, 2: False}
