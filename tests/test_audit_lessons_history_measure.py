"""learning-in-steps measures the plateaus of each run's loss curve; under Two saved runs its runs are saved ones,
whose models keep their weights but not their history. The measure must read each run's logged history from the
run store (it read an empty one: 0 plateaus with plain SGD, a false failure on the page), and the page draws the two
loss curves the lesson is about (Compare showed only its generic atom pairing)."""

from __future__ import annotations

from core import datasets, lessons, metrics
from tests.app_support import elements, open_page

LESSON = "learning-in-steps"


def _history(levels: list[float]) -> list[dict]:
    """A logged loss curve (every 20 steps) resting on each level in turn."""
    per_level = 45 // len(levels)
    losses = [level for level in levels for _ in range(per_level)]
    return [{"step": 20 * (index + 1), "loss": loss, "mse": loss} for index, loss in enumerate(losses)]


def test_the_measure_under_two_saved_runs_reads_their_logged_loss_curves(tmp_path, monkeypatch):
    from core.store import RunStore

    lesson = lessons.get(LESSON)
    data = datasets.load(lesson.data, **lesson.data_options)
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    store = RunStore(tmp_path / "runs")
    curves = {"plain SGD, small initialisation": [3.5, 2.0, 0.8], "Adam": [0.8]}
    for run in lesson.runs:  # a few steps: the weights do not matter here, the logged curve does
        model = type(run.create())(**{**run.settings(), "max_steps": 20, "device": "cpu"}).fit(data.X)
        store.save_run(model, dataset=lesson.data, data_options=lesson.data_options, X=data.X,
                       history=_history(curves[run.label]))
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{LESSON}").click().run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    measured = " ".join(str(box.value) for box in [*at.success, *at.warning] if "Measured" in str(box.value))
    sgd_plateaus = len(metrics.plateau_levels([row["loss"] for row in _history(curves[lesson.runs[0].label])]))
    assert sgd_plateaus == 3
    assert f"Plateaus with plain SGD **{sgd_plateaus}**" in measured, measured
    assert "✗" not in measured and "Plateaus with Adam **0**" in measured
    captions = [image.proto.imgs[0].caption for image in elements(at, "image")]
    assert any("loss by training step" in caption and "as logged during training (log scale)" in caption for caption in captions), captions
