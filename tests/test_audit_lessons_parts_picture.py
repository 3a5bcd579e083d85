"""The drawn-faces lesson (eigenfaces-vs-nmf-parts) shows on Compare what its card shows and its text asks to look
at: NMF's atoms (parts, sparsest first) beside PCA's components (eigenfaces), under its measured line. Before, only
Compare's generic pairing of NMF's atoms to PCA's was there (red parts matched to eigenfaces)."""

from __future__ import annotations

from core import datasets, lessons
from tests.app_support import elements, open_page

LESSON = "eigenfaces-vs-nmf-parts"


def test_compare_shows_the_parts_beside_the_eigenfaces(tmp_path, monkeypatch):
    from core.store import RunStore

    lesson = lessons.get(LESSON)
    data = datasets.load(lesson.data, **lesson.data_options)
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(tmp_path / "runs"))
    store = RunStore(tmp_path / "runs")
    for run in lesson.runs:  # NMF briefly: what the page shows, not how well it learns
        params = {**run.settings(), "max_steps": 20} if "max_steps" in run.params else run.settings()
        model = type(run.create())(**params).fit(data.X)
        store.save_run(model, dataset=lesson.data, data_options=lesson.data_options, X=data.X,
                       image_shape=data.image_shape)
    at = open_page("views/home.py")
    at.button(key=f"lesson:open:{LESSON}").click().run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    assert any("Measured on these two runs" in str(box.value) for box in [*at.success, *at.warning])
    captions = [image.proto.imgs[0].caption for image in elements(at, "image")]
    assert any(caption.startswith("Left: NMF's atoms, black where 0, sparsest first") for caption in captions), captions
