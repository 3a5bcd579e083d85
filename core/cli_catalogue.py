"""``python -m core datasets | models | lessons | lesson``: what the engine offers, and a lesson run headless.

The listings print plain text, one entry a line with its details indented below; ``lesson`` prints its
measured outcome as one JSON line (exit status 0 when it lies in the expected ranges, 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from core import datasets, models
from core.cli_output import finite
from core.device import DEVICE_CHOICES


def add_commands(commands) -> None:
    """Register ``datasets``, ``models``, ``lessons`` and ``lesson`` on the CLI's sub-command parser."""
    commands.add_parser("datasets", help="list the data sets and their options").set_defaults(handler=list_datasets)
    commands.add_parser("models", help="list the models and their parameters").set_defaults(handler=list_models)

    commands.add_parser("lessons", help="list the lessons: the research notes' classic results").set_defaults(
        handler=list_lessons)
    lesson = commands.add_parser("lesson", help="run one lesson headless; its measured outcome as JSON",
                                 description="Train a lesson's runs and measure its outcome; the last line of "
                                             "stdout is a JSON object (outcome, expected ranges, ok).")
    lesson.add_argument("name", help="the lesson (see `lessons`)")
    lesson.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="where to train (default auto)")
    lesson.add_argument("--card", metavar="PATH.png", default=None,
                        help="also write the picture of its outcome (its Home card) to this PNG")
    lesson.set_defaults(handler=lesson_command)


def _format_options(options: Any) -> str:
    if isinstance(options, dict):
        return ", ".join(f"{key}={value!r}" for key, value in options.items())
    if isinstance(options, (list, tuple, set, frozenset)):
        return ", ".join(map(str, options))
    return str(options)


def list_datasets(args: argparse.Namespace) -> int:
    """One line per data set: its name and description, then its options."""
    options = getattr(datasets, "DATASET_OPTIONS", {})
    names = datasets.available()
    width = max(map(len, names), default=0)
    for name in names:
        print(f"{name:<{width}}  {datasets.describe(name)}")
        if isinstance(options, dict) and options.get(name):
            print(f"{'':<{width}}  options: {_format_options(options[name])}")
    print(f"\nEvery data set also takes: n_samples, scale ({' | '.join(map(str, datasets.SCALE_CHOICES))}), "
          "center, seed, image_shape. A .npy, .npz, .safetensors or .csv file (activations or embeddings, one "
          "sample a row), a .zip of images or an image folder works as a data set too (--data PATH); their "
          "options (--data-option KEY=VALUE):")
    for kind, kind_options in datasets.FILE_OPTIONS.items():
        print(f"  {kind:<12}  {', '.join(kind_options) or 'none beyond the above'}")
    return 0


def list_models(args: argparse.Namespace) -> int:
    """Each model with its description and its parameters with their defaults."""
    for name in models.available():
        try:
            params = models.default_params(name)
        except ImportError as error:  # a model whose module is not in this installation
            print(f"{name}  (not available: {error})")
            continue
        print(f"{name}  {models.describe(name)}")
        print("    " + ", ".join(f"{key}={value!r}" for key, value in params.items()))
    return 0


def list_lessons(args: argparse.Namespace) -> int:
    """One line per lesson: its name and title, then where it opens and the paper."""
    from core import lessons

    for name in lessons.names():
        lesson = lessons.get(name)
        runs = ", ".join(run.label or run.model for run in lesson.runs)
        online = " [online: one download, then cached]" if lesson.online else ""
        print(f"{name}  {lesson.title}{online}")
        print(f"    {lesson.data}: {runs} ({lesson.paper})")
    return 0


def check_card_path(card: str) -> None:
    """Refuse, before the lesson trains (minutes), a ``--card`` path that cannot be written."""
    path = Path(card)
    if path.is_dir():
        raise ValueError(f"--card {card} is a folder; give the PNG file to write, e.g. {path / 'card.png'}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        raise ValueError(f"cannot write --card {card}: {error.strerror or error}; choose a folder you can "
                         "write to.") from None


def lesson_command(args: argparse.Namespace) -> int:
    """Run a lesson; exit status 0 when its outcome lies in the expected ranges, 1 otherwise."""
    from core import lessons

    lessons.get(args.name)  # an unknown name is refused first
    if args.card is not None:
        check_card_path(args.card)
    result = lessons.run(args.name, device=args.device, card=args.card)
    if "error" in result:  # its data set could not be loaded (an online set, offline): the JSON line says why too
        print(f"error: {result['error']}", file=sys.stderr)
    print(json.dumps(finite(result)))
    return 0 if result["ok"] else 1
