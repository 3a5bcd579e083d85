"""Metrics of stored runs, tables and CSV, sweep values and reference points, the frontier's points and
thumbnails of atoms."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any, Iterable, Sequence

import numpy as np

from core import metrics, models, render


# -- runs, metrics, tables ---------------------------------------------------------------------------------------
def analysis_rows(n: int, max_rows: int | None = 10_000, seed: int = 0) -> np.ndarray:
    """All row indices, or a sorted random subset of ``max_rows`` of them (metrics of big sets stay quick)."""
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=int(max_rows), replace=False))


def training_seconds(history: Iterable[dict[str, Any]] | None) -> float | None:
    """Training time logged in a run's history (its last ``seconds``), or None when it has none."""
    for row in reversed(list(history or [])):
        if isinstance(row.get("seconds"), (int, float)):
            return float(row["seconds"])
    return None


def run_metrics(model, X, truth=None, seconds: float | None = None, codes=None) -> dict[str, float | None]:
    """The Compare table's metrics: MSE, FVU, L0, dead fraction, Hoyer of atoms and codes, training time,
    and MMCS against the ground truth atoms when given (None otherwise)."""
    X = np.asarray(metrics.as_numpy(X), dtype=np.float32)
    result: dict[str, float | None] = dict(metrics.evaluate(model, X, codes=codes))
    result["seconds"] = None if seconds is None else float(seconds)
    result["mmcs"] = None
    if truth is not None and np.asarray(truth).shape[1:] == np.asarray(model.components_).shape[1:]:
        result["mmcs"] = metrics.mmcs(truth, model.components_)
    return result


def rows_to_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    """A table (list of dicts; columns in first-seen order) as UTF-8 CSV bytes; None becomes empty."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue().encode("utf-8")


def feature_table(codes, atoms=None, threshold: float = 0.0) -> list[dict[str, Any]]:
    """Per feature: firing density (codes above ``threshold``: the model's ``metrics.activity_threshold``),
    mean and max activation (over samples), and the Hoyer sparseness of its atom."""
    codes = np.asarray(metrics.as_numpy(codes), dtype=np.float64)
    density = metrics.feature_density(codes, threshold)
    hoyer = metrics.hoyer_sparseness(atoms) if atoms is not None else [None] * codes.shape[1]
    return [{"feature": j, "density": float(density[j]), "mean activation": float(codes[:, j].mean()),
             "max activation": float(codes[:, j].max()),
             "atom hoyer": None if hoyer[j] is None else float(hoyer[j])} for j in range(codes.shape[1])]


def top_activating(codes, feature: int, n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` samples on which ``feature`` fires most (indices, activations), largest first; only samples
    where it fires at all."""
    column = np.asarray(metrics.as_numpy(codes))[:, int(feature)].astype(np.float64)
    order = np.argsort(-column, kind="stable")[: int(n)]
    order = order[column[order] > 0]
    return order, column[order]


# -- sweeps: reference points, points and thumbnails -----------------------------------------------------------
def reference_points(X, ranks: Iterable[int], *, nmf: bool = True, nmf_steps: int = 200,
                     max_rows: int | None = 5000) -> list[dict[str, Any]]:
    """PCA and NMF of each rank as reference points for an L0-FVU frontier.

    PCA's FVU comes from the singular values (``sum_{k>r} s_k^2 / sum_k s_k^2`` of the centred data) and its
    codes are dense (L0 = r). NMF (HALS, ``nmf_steps`` steps, seed 0) is fitted when ``nmf`` and the data
    are non-negative; its L0 and FVU are measured.
    """
    X = np.asarray(metrics.as_numpy(X), dtype=np.float32)
    X = X[analysis_rows(X.shape[0], max_rows)]
    ranks = sorted({int(r) for r in ranks})
    pca = metrics.pca_mse_by_rank(X, [0, *ranks])  # rank 0: the total energy, FVU's denominator
    nmf = nmf and X.size > 0 and float(X.min()) >= 0  # once, not per rank
    points = []
    for rank in ranks:
        fvu = pca[rank] / pca[0] if pca[0] > 0 else 0.0
        points.append({"model": "pca", "n_components": rank, "l0": float(min(rank, *X.shape)), "fvu": fvu,
                       "mse": pca[rank]})
        if nmf:
            model = models.create("nmf", n_components=rank, max_steps=nmf_steps, random_state=0, tol=0.0)
            model.fit(X)
            scores = metrics.evaluate(model, X)
            points.append({"model": "nmf", "n_components": rank, "l0": scores["l0"], "fvu": scores["fvu"],
                           "mse": scores["mse"]})
    return points


def points_near(rows: Sequence[dict[str, Any]], run_id: str, x: str = "l0", y: str = "fvu",
                tolerance: float = 0.03) -> list[str]:
    """The run ids of ``rows`` whose (x, y) point lies on the point of ``run_id`` as a plot draws them: within
    ``tolerance`` of each axis's span (axes from 0 to the largest value, as the frontier's are), nearest
    first and ``run_id`` itself first of all. A click there may have meant any of them."""
    placed = [r for r in rows if r.get(x) is not None and r.get(y) is not None]
    clicked = next((r for r in placed if r["run_id"] == run_id), None)
    if clicked is None:
        return []
    spans = [max([abs(float(r[axis])) for r in placed] + [1e-12]) for axis in (x, y)]

    def distance(row) -> float:
        return max(abs(float(row[axis]) - float(clicked[axis])) / span for axis, span in zip((x, y), spans))

    near = sorted((r for r in placed if distance(r) <= tolerance),
                  key=lambda r: (r["run_id"] != run_id, distance(r)))
    return [r["run_id"] for r in near]


def atoms_thumbnail(atoms, image_shape=None, n: int = 4, height: int = 24) -> str:
    """The first ``n`` atoms side by side as a small PNG (about ``height`` pixels high), as a ``data:`` URL
    that a table's image column shows."""
    atoms = np.asarray(metrics.as_numpy(atoms))[: max(1, int(n))]
    tile_height = int(image_shape[0]) if image_shape is not None else 1
    scale = max(1, round(height / tile_height)) if image_shape is not None else 4
    picture = render.atom_grid(atoms, image_shape, columns=len(atoms), scale=scale)
    return "data:image/png;base64," + base64.b64encode(render.png_bytes(picture)).decode("ascii")
