"""The Train page's metric cells say what they were measured on: while a run goes, the last logged step's
training batch (where the curve ends); once it has ended, the whole data set (core.metrics.evaluate), which
is the number then shown (ui.train_live)."""

from __future__ import annotations

from app_support import app_state, loss_curve, open_page, stop_job


def _cells(at) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.proto.help) for m in at.metric}


def test_the_metric_cells_name_the_data_they_were_measured_on():
    at = open_page("views/train.py")
    at.select_slider(key="param:sae-topk:max_steps").set_value(10000).run()
    next(b for b in at.button if b.label == "Train").click().run()
    job = app_state(at).job
    try:
        while not job.snapshot().history:
            job.wait(0.1)
        at.run()
        running = _cells(at)
        assert "last logged training step, on its batch" in running["MSE"][1]
        assert "latest training batches" in running["Dead atoms"][1]
        assert list(running) == ["MSE", "PCA error", "L0 per sample", "Dead atoms"]  # shown whole at 1280 px
        stop_job(at)
        at.run()
        ended, snap = _cells(at), job.snapshot()
        assert snap.metrics and ended["MSE"][0] == f"{snap.metrics['mse']:.4g}"
        for label in ("MSE", "L0 per sample", "Dead atoms"):
            assert "whole data set (the run has ended)" in ended[label][1], label
        assert loss_curve(at)["x"][-1] == snap.history[-1]["step"]
    finally:
        stop_job(at)
