"""Each lesson's Home card picture: its OUTCOME, drawn from a real headless run of the lesson (not its data).

``picture(lesson, data, fitted)`` draws what the run found (NMF's parts beside PCA's eigenfaces, the loss
falling in steps, the errors above PCA's, ...) about ``CARD_WIDTH`` pixels wide, with a caption that says what
it shows; ``save`` writes it as a PNG that carries its caption (``CAPTION_KEY``), read back by ``load``.

    python -m core.lessons.cards            # writes assets/lessons/<name>.png for every offline lesson
    python -m core lesson NAME --card x.png # one lesson, run headless, its card written to x.png

A lesson whose data set needs a download (``Lesson.online``) has no asset: its card keeps the data picture.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, PngImagePlugin

from core import lessons, metrics, render
from core.analysis.geometry import top_principal_components
from core.analysis.pairing import pair_atoms
from core.lessons.pictures import parts_beside_eigenfaces
from core.render.charts import bar_chart, line_chart

#: where the committed card pictures live, one <lesson name>.png each
ASSETS = Path(__file__).resolve().parents[2] / "assets" / "lessons"
#: the width a card picture is drawn at (Home shows it at its card's width, about 270 to 360 pixels)
CARD_WIDTH = 360
#: the PNG text chunk that holds the card's caption
CAPTION_KEY = "Description"

Drawing = Callable[[lessons.Lesson, Any, list], tuple[Image.Image, str]]
_DRAWINGS: dict[str, Drawing] = {}


def _draws(name: str):
    def register(drawing: Drawing) -> Drawing:
        _DRAWINGS[name] = drawing
        return drawing
    return register


def _stacked(images: list[Image.Image], gap: int = 10) -> Image.Image:
    """Pictures one under the other, left-aligned, on white."""
    canvas = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images) + gap * (len(images) - 1)),
                       "white")
    top = 0
    for image in images:
        canvas.paste(image, (0, top))
        top += image.height + gap
    return canvas


def _loss_curve(model) -> tuple[list[float], list[float]]:
    return [row["step"] for row in model.history_], [row["loss"] for row in model.history_]


@_draws("linear-ae-is-pca")
def _loss_to_pca(lesson, data, fitted):
    (model,) = fitted
    rank = model.components_.shape[0]
    floor = metrics.pca_mse(data.X, rank)
    chart = line_chart({"linear autoencoder": _loss_curve(model)}, reference=(floor, f"PCA's error (rank {rank})"),
                       y_label="mean squared error", width=CARD_WIDTH)
    return chart, f"Loss per step: it falls onto PCA's error of rank {rank} (dashed) and stays there"


@_draws("topk-recovers-a-dictionary")
def _dictionary(lesson, data, fitted):
    """|cos| of every true direction (rows) to every learned atom (columns: the one matched to each true
    direction first, in the same order, then the spares), black 0 to white 1: a recovered dictionary is a
    white diagonal; the matched pairs' own heat maps look like noise on a card this small."""
    atoms = metrics.as_numpy(fitted[0].components_)
    similarity = metrics.cosine_similarity_matrix(data.truth, atoms)
    pairs = pair_atoms(data.truth, atoms)
    matched = pairs.cols[np.argsort(pairs.rows)]
    columns = np.concatenate([matched, np.setdiff1d(np.arange(len(atoms)), matched)])
    table = similarity[:, columns]
    picture = render.atom_grid(table.reshape(1, -1), table.shape, scale=5, cmap="gray", normalize="global")
    labelled = render.side_by_side([picture], [f"rows: the {len(data.truth)} true directions; columns: the "
                                               f"{len(atoms)} learned atoms, matched ones first"])
    mmcs = metrics.mmcs(data.truth, atoms)
    return labelled, (f"|cos| of each true direction to each learned atom (white 1, black 0): the white diagonal "
                      f"says each was found (MMCS {mmcs:.3f})")


@_draws("autoencoder-grid")
def _errors_above_pca(lesson, data, fitted):
    outcome = lesson.measure(data, fitted)
    reference = lesson.bars.reference
    percents, colors = [], []
    for (key, value) in outcome.items():
        low, high = lesson.expected[key]
        percents.append(100.0 * (value / reference - 1.0))
        colors.append("#15803d" if low <= value <= high else "#b91c1c")
    chart = bar_chart([run.label for run in lesson.runs], percents, width=CARD_WIDTH, value_suffix="%",
                      reference_label="PCA's error", colors=colors)
    return chart, ("Each autoencoder's error above PCA's (rank 4): tied sigmoid and bias-free ReLU stay above. "
                   "Green: in the range the lesson expects, red: outside it")


@_draws("denoising")
def _denoised_digits(lesson, data, fitted):
    chosen = np.linspace(0, len(data.X) - 1, 3).astype(int)
    picture, _ = lesson.picture(dataclasses.replace(data, X=data.X[chosen]), fitted)
    return picture, ("Each row: a digit, its noisy input, then each autoencoder's reconstruction of "
                     "it: the denoising one's is cleaner")


@_draws("cs294a-edges")
def _edges_beside_gratings(lesson, data, fitted):
    (model,) = fitted
    weights = metrics.as_numpy(model.encoder_weight_)
    grids = [render.atom_grid(atoms, data.image_shape, scale=3, padding=2, background="#9ca3af")
             for atoms in (weights, top_principal_components(data.X, len(weights)))]
    picture = render.side_by_side(grids, ["KL sparse autoencoder", "PCA"], gap=24)
    return picture, f"The {len(weights)} units' input weights after training (edges) beside PCA's (gratings)"


@_draws("eigenfaces-vs-nmf-parts")
def _parts_beside_eigenfaces(lesson, data, fitted):
    nmf, pca = fitted
    picture, _ = parts_beside_eigenfaces(nmf.components_, pca.components_, data.image_shape)
    return picture, f"NMF's {len(nmf.components_)} atoms after training (parts) beside PCA's (eigenfaces)"


#: a signed atom on the swimmer card is full colour at this fraction of its largest |value|: its limbs are lines
#: one pixel wide, most of them at a third to a half of its peak, too pale to read at the atom's own full scale
SIGNED_FULL_COLOUR = 0.5


def _signed_on_a_readable_scale(atoms: np.ndarray) -> np.ndarray:
    """Each signed atom divided by SIGNED_FULL_COLOUR times its largest |value| and clipped to [-1, 1]: its own
    symmetric scale (0 stays white), full colour from half its peak up."""
    peaks = np.maximum(np.abs(atoms).max(axis=1, keepdims=True), 1e-12)
    return np.clip(atoms / (SIGNED_FULL_COLOUR * peaks), -1.0, 1.0)


@_draws("when-sae-and-nmf-agree")
def _three_dictionaries(lesson, data, fitted):
    reference = metrics.as_numpy(fitted[0].components_)
    rows = []
    for run, model in zip(lesson.runs, fitted):
        atoms = metrics.as_numpy(model.components_)
        if model is not fitted[0]:  # in the order of NMF's atoms, each turned to the sign of its match
            pairs = pair_atoms(reference, atoms)
            order = np.argsort(pairs.rows)
            atoms = pairs.aligned_right(atoms)[pairs.cols[order]]
        signed = bool(atoms.min() < 0)
        grid = render.atom_grid(_signed_on_a_readable_scale(atoms) if signed else atoms, data.image_shape,
                                columns=9, scale=1, cmap="diverging" if signed else "gray",
                                normalize="global" if signed else "each", padding=2,
                                background="#d1d5db" if signed else "white")  # white tiles need a gray gap
        rows.append(render.side_by_side([grid], [f"{run.label} (red +, blue -)" if signed else run.label]))
    return _stacked(rows), ("Each model's 17 atoms, in the order of NMF's: the non-negative SAE's are NMF's parts, "
                            "the signed SAE's mix limbs of both signs (each atom on its own scale, white 0, full "
                            f"colour from {SIGNED_FULL_COLOUR:.0%} of its largest |value|)")


@_draws("learning-in-steps")
def _loss_in_steps(lesson, data, fitted):
    chart = line_chart({run.label: _loss_curve(model) for run, model in zip(lesson.runs, fitted)}, log_y=True,
                       y_label="loss (log scale)", width=CARD_WIDTH)
    return chart, "Loss per step: plain SGD from tiny weights falls in steps, one per component; Adam slides"


def _generic(lesson, data, fitted):
    """A lesson without a drawing of its own: its picture, else its bars, else its first run's atoms."""
    if lesson.picture is not None:
        return lesson.picture(data, fitted)
    atoms = metrics.as_numpy(fitted[0].components_)
    return (render.atom_grid(atoms, data.image_shape, background="white"),
            f"The {lesson.runs[0].label or lesson.runs[0].model}'s {len(atoms)} atoms after training")


def picture(lesson: lessons.Lesson, data, fitted: list) -> tuple[Image.Image, str]:
    """The card's picture of ``lesson``'s fitted runs (in the order of its runs) and its caption, at most
    ``CARD_WIDTH`` pixels wide (a wider drawing is shrunk to it)."""
    image, caption = _DRAWINGS.get(lesson.name, _generic)(lesson, data, fitted)
    if image.width > CARD_WIDTH:
        image = image.resize((CARD_WIDTH, round(image.height * CARD_WIDTH / image.width)), Image.LANCZOS)
    return image.convert("RGB"), caption


def save(lesson: lessons.Lesson, data, fitted: list, path) -> Path:
    """Draw the card of the fitted runs and write it to ``path`` as a PNG carrying its caption."""
    image, caption = picture(lesson, data, fitted)
    info = PngImagePlugin.PngInfo()
    info.add_text(CAPTION_KEY, caption)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", pnginfo=info, optimize=True)
    return path


def asset(name: str) -> Path:
    return ASSETS / f"{name}.png"


def load(name: str) -> tuple[Image.Image, str] | None:
    """Lesson ``name``'s committed card (picture, caption), or None when there is none."""
    path = asset(name)
    if not path.is_file():
        return None
    with Image.open(path) as image:
        image.load()
        return image.convert("RGB"), image.info.get(CAPTION_KEY, "")


def main(argv: list[str] | None = None) -> int:
    """Run every offline lesson (or those named) headless and write its card to assets/lessons/."""
    parser = argparse.ArgumentParser(prog="python -m core.lessons.cards", description=main.__doc__)
    parser.add_argument("names", nargs="*", help="lessons to draw (default: every lesson that needs no download)")
    parser.add_argument("--device", default="auto", help="where to train (default auto)")
    args = parser.parse_args(argv)
    names = args.names or [name for name in lessons.names() if not lessons.get(name).online]
    failed = 0
    for name in names:
        result = lessons.run(name, device=args.device, card=asset(name))
        failed += not result["ok"]
        print(f"{name}: {'ok' if result['ok'] else 'OUTSIDE its expected range'} in {result['seconds']:.0f} s "
              f"-> {result.get('card', result.get('error'))}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
