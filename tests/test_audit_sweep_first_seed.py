"""A setting of a sweep with several seeds is shown, opened and drawn in the gallery by its first seed (seed 0),
as the gallery's caption says, whatever order the run store lists the trials in (newest first)."""

from __future__ import annotations

from core import datasets, models
from core.analysis import frontier
from core.store import RunStore


def test_a_settings_first_run_is_its_lowest_seed_though_the_store_lists_the_newest_first(tmp_path):
    store, ds = RunStore(tmp_path / "runs"), datasets.load("digits")
    saved = {}
    for k in (2, 4):
        for seed in (0, 1, 2):  # saved in the sweep's order: seed 0 first, so the store lists it last
            model = models.create("sae-topk", n_components=8, k=k, max_steps=5, random_state=seed,
                                  device="cpu").fit(ds.X)
            saved[k, seed] = store.save_run(model, dataset="digits", X=ds.X, image_shape=ds.image_shape,
                                            sweep="seeds", name=f"k={k} seed {seed}", metrics={"l0": k, "fvu": 0.5},
                                            extra={"sweep_grid": {"k": k}, "seed": seed}).id
    records = store.list_runs(with_weights=True)  # what the Sweep page reads: newest first
    assert records[0].id == saved[4, 2]
    settings = frontier.swept_params(records)
    groups = frontier.aggregate(frontier.trial_rows(records, settings), settings)
    assert {g["k"]: g["run_ids"] for g in groups} == {k: [saved[k, s] for s in (0, 1, 2)] for k in (2, 4)}
    ordered, _ = frontier.gallery_layout(groups, settings)  # a gallery panel shows its setting's first run
    assert [g["run_ids"][0] for g, _ in ordered] == [saved[2, 0], saved[4, 0]]
