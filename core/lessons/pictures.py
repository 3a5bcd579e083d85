"""What a lesson's text asks to look at, drawn from its fitted runs (``Lesson.picture``): pictures a teacher can
show, each with a caption that says what is where."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core import metrics, render
from core.analysis.pairing import pair_atoms, reconstruction_image
from core.render.charts import line_chart

#: how many samples a reconstruction picture shows
N_SAMPLES = 6
#: pixels per data pixel in a reconstruction picture (8x8 digits become 64x64 tiles)
SCALE = 8


def _samples(n: int) -> np.ndarray:
    return np.linspace(0, n - 1, min(N_SAMPLES, n)).astype(int)


def noisy_reconstructions(clean, noisy, models: dict[str, object], image_shape) -> tuple[Image.Image, str]:
    """A few samples: the clean one, its noisy version, and each model's reconstruction of the NOISY one
    (``models``: label -> fitted estimator), on one gray scale."""
    chosen = _samples(len(clean))
    columns = {"noisy input": noisy[chosen]}
    for label, model in models.items():
        columns[label] = model.inverse_transform(model.transform(noisy[chosen]))
    # one gray scale from 0 (black) to 1 (white): the noise pushes pixels outside [0, 1], which would otherwise
    # stretch the scale and wash out the digits
    shown = {label: np.clip(metrics.as_numpy(values), 0.0, 1.0) for label, values in columns.items()}
    picture = reconstruction_image(np.clip(clean[chosen], 0.0, 1.0), shown, image_shape, scale=SCALE, cmap="gray")
    names = ", then ".join(f"the {label}'s reconstruction of it" for label in models)
    caption = (f"Samples {', '.join(map(str, chosen))}, one per row: the clean original, the noisy input both "
               f"models are given, then {names}. Closer to the clean column is better. Drawn on one gray scale "
               "clipped to [0, 1].")
    return picture, caption


def matched_dictionary(truth, atoms, scale: int = 6) -> tuple[Image.Image, str]:
    """The true directions (one heat-map row each) beside the learned atom matched to each (Hungarian matching
    by |cos|, turned to the same sign), rows in the same order and on one colour scale: a recovered dictionary
    shows two identical columns."""
    truth = np.asarray(metrics.as_numpy(truth), dtype=np.float64)
    pairs = pair_atoms(truth, atoms)
    order = np.argsort(pairs.rows)  # the true directions in their own order
    true_rows = truth[pairs.rows[order]]
    matched = pairs.aligned_right(atoms)[pairs.cols[order]]
    unit = lambda rows: rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)  # noqa: E731
    panels = render.shared_scale_columns([unit(true_rows), unit(matched)], None, scale=scale, background="#d1d5db")
    picture = render.side_by_side(panels, [f"the {len(truth)} true directions", "the learned atom matched to each"])
    similarity = pairs.similarity[order]
    caption = (f"Row i: true direction i (left) and the learned atom matched to it (right), each of its "
               f"{truth.shape[1]} numbers a colour (red +, blue -, white 0; unit length, one scale). |cos| of the "
               f"pairs: lowest {similarity.min():.3f}, median {np.median(similarity):.3f}. "
               f"{max(0, len(metrics.as_numpy(atoms)) - len(truth))} spare atoms are not drawn.")
    return picture, caption


def parts_beside_eigenfaces(nmf_atoms, pca_components, image_shape) -> tuple[Image.Image, str]:
    """NMF's atoms in gray (black 0, white their largest value), sparsest first (Hoyer), beside PCA's components
    in their order, red + and blue - around white 0: each grid drawn in its own colour map, each atom scaled
    on its own."""
    sparseness = metrics.hoyer_sparseness(nmf_atoms)
    order = np.argsort(-sparseness)
    parts = render.atom_grid(metrics.as_numpy(nmf_atoms)[order], image_shape, scale=1, cmap="gray", padding=2,
                             background="white")
    eigenfaces = render.atom_grid(pca_components, image_shape, scale=1, cmap="diverging", padding=2,
                                  background="white")
    picture = render.side_by_side([parts, eigenfaces], [f"NMF's {len(order)} atoms, sparsest first",
                                                        f"PCA's {len(pca_components)} components (eigenfaces)"],
                                  gap=24)
    caption = ("Left: NMF's atoms, black where 0, sparsest first (Hoyer's sparseness from "
               f"{sparseness.max():.2f} down to {sparseness.min():.2f}). Right: PCA's components in order of "
               "variance, red positive and blue negative around white 0. Each atom is scaled on its own.")
    return picture, caption


def loss_curves(runs: dict[str, object], width: int = 600) -> tuple[Image.Image, str]:
    """Each fitted run's logged loss by step (``runs``: label -> fitted estimator with its ``history_``), on one
    log-scaled chart: a loss that rests on plateaus and drops shows its steps at any height."""
    series = {label: ([row["step"] for row in model.history_], [row["loss"] for row in model.history_])
              for label, model in runs.items()}
    if not any(steps for steps, _ in series.values()):
        raise ValueError("these runs have no logged training history to draw")
    picture = line_chart(series, width=width, log_y=True, y_label="loss (log scale)")
    caption = f"Each run's loss by training step ({'; '.join(runs)}), as logged during training (log scale)."
    return picture, caption
