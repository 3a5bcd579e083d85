"""AppTest: Inspect's feature card for a saved digits run, a text-embeddings run, and a run trained the app's way
(a TrainingJob saved by core.jobs.saving), whose firing density over training is drawn as a heatmap."""

from __future__ import annotations

import pytest

from app_support import elements, open_page
from core import datasets, models
from core.jobs import TrainingJob
from core.jobs.saving import save_job
from core.store import RunStore


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One store for the module: a digits run fitted outside the app, a text-embeddings run, and a digits run
    trained as the Train page trains (a TrainingJob, saved when it ends)."""
    root = tmp_path_factory.mktemp("feature-card") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAE_EXPLORER_RUNS", str(root))
        store = RunStore(root)
        saved = {}
        for key, dataset in (("digits", "digits"), ("texts", "text-embeddings")):
            ds = datasets.load(dataset)
            model = models.create("sae-topk", n_components=16, k=4, max_steps=60, random_state=0, device="cpu")
            saved[key] = store.save_run(model.fit(ds.X), dataset=dataset, X=ds.X, image_shape=ds.image_shape)
        ds = datasets.load("digits")
        job = TrainingJob(models.create("sae-topk", n_components=16, k=4, max_steps=60, random_state=0, device="cpu"),
                          ds.X, model_name="sae-topk", dataset_name="digits", image_shape=ds.image_shape)
        job.start()
        job.wait(120)
        saved["trained"] = save_job(store, job, dataset="digits")
        yield saved


def _open(run_id):
    at = open_page("views/inspect.py")
    at.selectbox(key="inspect:run").set_value(run_id).run()
    assert not at.exception and not at.error, at.exception or at.error
    return at


def _charts(at) -> set[str]:
    return {c.proto.id.split("-", 2)[-1] for c in elements(at, "plotly_chart")}


#: the card's tables, told apart by a column only each has
TABLE_COLUMNS = {"cosine": "nearest atoms", "correlation": "correlated features", "sample": "top texts",
                 "percentile": "texts across percentiles", "mean on matching texts": "search results"}


def _tables(at) -> set[str]:
    return {name for d in at.dataframe for column, name in TABLE_COLUMNS.items() if column in d.value.columns}


def test_the_card_of_a_saved_digits_run(runs):
    at = _open(runs["digits"].id)
    at.number_input(key="inspect:feature").set_value(3).run()
    assert not at.exception and not at.error
    charts = _charts(at)
    assert {"inspect:class-means", "inspect:activations", "inspect:density"} <= charts
    assert "inspect:firing-heatmap" not in charts  # fitted outside the app: no record
    assert any("has no such record" in c.value for c in at.caption)
    assert {"nearest atoms", "correlated features"} <= _tables(at)
    assert at.slider(key="inspect:factor").value == 2.0
    at.slider(key="inspect:factor").set_value(0.0).run()
    assert not at.exception and not at.error
    assert any("→ 0:" in c.value for c in at.caption)  # the scaled activation
    assert len(elements(at, "image")) >= 1 + 1 + 6 + 4  # atom, top samples, six percentiles, four panels


def test_the_card_of_a_text_embeddings_run_shows_texts_keywords_and_search(runs):
    at = _open(runs["texts"].id)
    assert {"top texts", "texts across percentiles", "nearest atoms"} <= _tables(at)
    assert {"inspect:scaled", "inspect:atom-bars"} <= _charts(at)  # vectors as charts, not fake pictures
    assert any(c.value.startswith("Keywords: **") for c in at.caption)
    at.text_input(key="inspect:search").set_value("guitar").run()
    assert not at.exception and not at.error
    assert "search results" in _tables(at)
    assert any("texts contain 'guitar'" in c.value for c in at.caption)


def test_a_run_trained_in_the_app_shows_its_firing_density_over_training(runs):
    at = _open(runs["trained"].id)
    assert "inspect:firing-heatmap" in _charts(at)
