"""The command line: ``python -m core datasets | models | train | sweep ...``; the listings and ``lesson`` are
``core.cli_catalogue``, ``sweep`` is ``core.cli_sweep``, ``export`` / ``import`` are ``core.cli_export``, and what
``train --out`` writes is ``core.cli_output``.

``train`` loads a data set, fits a model with a progress bar on stderr, and prints one JSON object of
metrics as the last line of stdout (easy to parse from a script); ``--out DIR`` also keeps the
checkpoint, the metrics, the training history and a picture of the atoms. Errors print one line,
``error: ...``, on stderr, never a traceback. Exit status: 0 success, 2 bad input (the command line,
the data, an unwritable ``--out``, a run store that cannot be opened), 3 a diverged run (its JSON line is
still printed, with ``"diverged": true``, and ``--out`` keeps the last good weights), 1 an unexpected
failure (set ``SAE_EXPLORER_DEBUG=1`` to see its traceback), 130 interrupted.

Before training, ``core.budget`` estimates the run's memory and time: a run over the memory limit is
refused (exit 2) with what to change; a slow one (minutes before its first metrics, or a long run) is
refused the same way unless ``--yes`` says to train anyway. A data set with known atoms (``face-parts``,
``swimmer``, ``bars``, ``sparse-synthetic``, ``gaussian``) adds ``mmcs``, the learned atoms' mean max cosine to the
true ones, to the JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core import budget, checkpoint, cli_catalogue, datasets, metrics, models
# OUT_FILES, history_csv and _finite stay reachable as core.cli's, for core.cli_sweep and the tests
from core.cli_output import OUT_FILES, history_csv, write_run  # noqa: F401
from core.cli_output import finite as _finite
from core.device import DEVICE_CHOICES, device_label, resolve_device
from core.store.errors import StoreError
from core.training import TrainingDiverged

EXIT_ERROR = 2
EXIT_DIVERGED = 3
EXIT_INTERNAL = 1
#: the keys of the JSON line ``train`` prints, in order
SUMMARY_KEYS = ("model", "data", "n_samples", "n_features", "n_components", "mse", "fvu", "l0",
                "dead_fraction", "pca_mse", "seconds", "device", "device_name", "diverged")


class UsageError(ValueError):
    """A command line that cannot run as given; the message says what to change."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (no usage block) and exits with status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_ERROR, f"error: {message}. See `{self.prog} --help`.\n")


# -- parsing ---------------------------------------------------------------------------------------
_WORDS = {"true": True, "false": False, "none": None, "null": None}


def _key_value(text: str) -> tuple[str, Any]:
    """'name=value' -> (name, value): 3 -> int, 0.1 / 1e-3 -> float, true / False -> bool, none -> None,
    [8, 8] -> list (JSON), anything else a string (relu, minmax)."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip() or not raw.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}; write e.g. learning_rate=0.001")
    raw = raw.strip()
    if raw.lower() in _WORDS:
        return name.strip().replace("-", "_"), _WORDS[raw.lower()]
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare word such as relu or minmax
    return name.strip().replace("-", "_"), value


def _typed(model: str, name: str, value: Any, default: Any) -> Any:
    """``value`` checked against the type of the parameter's default (no check when the default is None)."""
    if default is None or value is None or isinstance(default, str):
        return value  # free-form parameters: the model validates them when it fits
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, kind = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
        value = float(value) if ok else value
    else:
        return value
    if not ok:
        raise UsageError(f"--set {name}={value!r}: {model!r} takes {kind} for {name} (default {default!r}); "
                         f"write e.g. --set {name}={json.dumps(default)}.")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description="SAE/NMF Explorer without the UI.")
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{datasets,models,train,sweep,lessons,lesson,export,import}")
    cli_catalogue.add_commands(commands)  # datasets, models, lessons, lesson

    train = commands.add_parser("train", help="fit a model and print its metrics as JSON",
                                description="Fit a model; the last line of stdout is a JSON object of metrics.")
    train.set_defaults(handler=train_command)
    train.add_argument("--data", help="data set name (see `datasets`) or a .npy/.npz/.safetensors/.csv path (required "
                                       "unless --config names it)")
    train.add_argument("--model", help="model name (see `models`; required unless --config is given)")
    train.add_argument("--n-components", type=int, help="number of atoms / latents")
    train.add_argument("--k", type=int, help="active latents per sample (top-k models only)")
    train.add_argument("--max-steps", type=int, help="training steps (iterative models only)")
    train.add_argument("--seed", type=int, default=0, help="seeds the data subsample and the model (default 0)")
    train.add_argument("--device", choices=DEVICE_CHOICES, help="where to train (default: the model's, 'auto')")
    train.add_argument("--set", dest="params", action="append", type=_key_value, default=[], metavar="PARAM=VALUE",
                       help="any model parameter, e.g. --set learning_rate=0.001 (repeatable)")
    train.add_argument("--data-option", dest="data_options", action="append", type=_key_value, default=[],
                       metavar="KEY=VALUE", help="a data option, e.g. --data-option scale=minmax (repeatable)")
    train.add_argument("--n-samples", type=int, help="use a random subset of this many samples")
    train.add_argument("--out", type=Path, help="folder for the checkpoint, metrics.json, history.csv, atoms.png")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--yes", action="store_true",
                       help="train even when the run is estimated to be slow (one too large for memory is refused)")
    from core import cli_train  # --config: replay a saved run

    cli_train.register(train, train_command)
    from core import cli_export  # export / import: SAELens and sparsify layouts (core.interop)

    cli_export.add_commands(commands, _key_value)
    from core import cli_sweep  # sweep: a grid of parameters times seeds, a JSON line per trial

    cli_sweep.add_command(commands, sys.modules[__name__])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already printed
        return exit_.code if isinstance(exit_.code, int) else 0
    try:
        return args.handler(args)
    except BrokenPipeError:  # e.g. `python -m core models | head`: the reader left, nothing to report
        return 1
    except (ValueError, ImportError, OSError, TrainingDiverged, StoreError) as error:
        return _fail(error)  # the user's input or machine (a run store that is a file, read-only, full): exit 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug, not the user's input: still one line, unless asked for the traceback
        if os.environ.get("SAE_EXPLORER_DEBUG"):
            raise
        return _fail(f"unexpected {type(error).__name__}: {error}. This is a bug; please report it with "
                     "the command line (SAE_EXPLORER_DEBUG=1 shows the traceback).", EXIT_INTERNAL)


def _fail(error: BaseException | str, status: int = EXIT_ERROR) -> int:
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"error: {message}", file=sys.stderr)
    return status


# -- train -----------------------------------------------------------------------------------------
def model_params(args: argparse.Namespace) -> dict[str, Any]:
    """The constructor parameters the flags ask for; flags a model has no parameter for are refused."""
    allowed = models.default_params(args.model)
    params: dict[str, Any] = {}
    for flag, param in (("--n-components", "n_components"), ("--k", "k"), ("--max-steps", "max_steps"),
                        ("--device", "device")):
        value = getattr(args, param)
        if value is None:
            continue
        if param not in allowed:
            having = [m for m in _importable_models() if param in models.default_params(m)]
            raise UsageError(f"{flag} does not apply to model {args.model!r}: it has no {param} parameter. "
                             f"Models with {param}: {', '.join(having) or 'none'}.")
        params[param] = value
    if "random_state" in allowed:
        params["random_state"] = args.seed
    for name, value in args.params:  # --set wins
        if name not in allowed:
            raise UsageError(f"--set {name}: model {args.model!r} has no parameter {name!r}. "
                             f"Its parameters: {', '.join(allowed)} (see `python -m core models`).")
        params[name] = _typed(args.model, name, value, allowed[name])
    return params


def _importable_models() -> list[str]:
    names = []
    for name in models.available():
        try:
            models.model_class(name)
        except ImportError:
            continue
        names.append(name)
    return names


def data_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options the data set is loaded with: the --data-option ones, the seed and --n-samples."""
    options = dict(args.data_options)
    options.setdefault("seed", args.seed)
    if args.n_samples is not None:
        options["n_samples"] = args.n_samples
    return options


def load_data(args: argparse.Namespace):
    return datasets.load(args.data, **data_options(args))


def _check_sign(model_name: str, data, data_options: dict[str, Any]) -> None:
    if data.non_negative:
        return  # nothing to refuse (and no second pass over the data for the message)
    # centring comes after scaling, so it would make minmax-scaled data signed again
    fix = ("drop --data-option center=true" if data_options.get("center")
           else "add --data-option scale=minmax to rescale it to [0, 1]")
    label = f"{data.name!r} (smallest value {float(data.X.min()):.4g})"
    try:
        models.check_sign([model_name], False, label, f"{fix}, or choose a model that accepts signed data.")
    except ValueError as error:
        raise UsageError(str(error)) from None


def check_budget(model, data, model_name: str, confirmed: bool) -> None:
    """Refuse, before any training memory is allocated, a run that does not fit (``core.budget``), and a
    slow one unless ``confirmed`` (``--yes``); a slow confirmed run says what to expect on stderr."""
    cost = budget.estimate_model(model, data.n_samples, data.n_features, model_name)
    if not cost.fits:
        raise UsageError(cost.refusal())
    if cost.slow:
        if not confirmed:
            raise UsageError(f"{cost.warning()} Pass --yes to train anyway.")
        print(f"note: {cost.warning()}", file=sys.stderr)


def fit_with_progress(model, X, quiet: bool = False, control=None) -> str | None:
    """Fit ``model`` (steered by ``control``, a ``core.training.TrainControl``, e.g. a replayed schedule);
    iterative models show a tqdm bar on stderr. Returns the divergence message, if any."""
    if not hasattr(model, "fit_iter"):
        model.fit(X)
        return None
    from tqdm.auto import tqdm

    total = model.get_params().get("max_steps")
    done = 0
    with tqdm(total=total, file=sys.stderr, disable=quiet, unit="step", dynamic_ncols=True,
              desc=models.name_of(model)) as bar:
        try:
            for row in model.fit_iter(X, control):
                bar.update(row["step"] - done)
                done = row["step"]
                bar.set_postfix(loss=f"{row['loss']:.4g}", refresh=False)
        except TrainingDiverged as error:  # the model keeps its last good weights
            return str(error)
        except BaseException:  # e.g. a parameter refused when the fit starts: erase the bar, keep the error
            bar.leave = False
            raise
    return None


def prepare_out(out: Path) -> bool:
    """Make sure ``out`` is a folder we can write, before training; True when this call created it."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is an existing file, not a folder; choose a folder path.")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise UsageError(f"cannot write to --out {out}: {error.strerror or error}; "
                         "choose a folder you can write to.") from None
    return created


def _finite_weights(model) -> bool:
    try:
        return all(bool(np.isfinite(w).all()) for w in model.get_weights().values())
    except Exception:  # not fitted at all
        return False


def train_command(args: argparse.Namespace, control=None) -> int:
    """Train as the flags say (``control``: see ``fit_with_progress``)."""
    params = model_params(args)
    model = models.create(args.model, **params)
    data = load_data(args)
    check_budget(model, data, args.model, args.yes)
    _check_sign(args.model, data, dict(args.data_options))
    created = prepare_out(args.out) if args.out is not None else False
    try:
        return _train(args, model, data, control)
    except BaseException:
        if created and not any(args.out.iterdir()):
            args.out.rmdir()  # leave nothing behind for a run that never started
        raise


def _train(args: argparse.Namespace, model, data, control=None) -> int:
    start = time.perf_counter()
    diverged = fit_with_progress(model, data.X, quiet=args.quiet, control=control)
    seconds = time.perf_counter() - start

    device = resolve_device(model.get_params().get("device", "auto"))
    scores = metrics.evaluate(model, data.X)
    n_components = int(model.components_.shape[0])
    summary = {
        "model": args.model,
        "data": data.name,
        "n_samples": data.n_samples,
        "n_features": data.n_features,
        "n_components": n_components,
        **{key: scores[key] for key in ("mse", "fvu", "l0", "dead_fraction")},
        "pca_mse": metrics.pca_mse(data.X, min(n_components, data.n_samples, data.n_features)),
        "seconds": round(seconds, 4),
        "device": device.type,
        "device_name": device_label(device),
        "diverged": diverged is not None,
        **truth_scores(model, data),
    }
    print(json.dumps(_finite(summary)), flush=True)  # first: a failed write below cannot lose the metrics
    keep_weights = _finite_weights(model)
    if args.out is not None:
        details = {**summary, "hoyer_atoms": scores["hoyer_atoms"], "hoyer_codes": scores["hoyer_codes"],
                   "steps": getattr(model, "n_steps_", None), "params": checkpoint.make_config(model)["params"],
                   "data_options": data_options(args), "error": diverged}
        try:
            write_run(args.out, model, data, details, weights=keep_weights)
        except OSError as error:
            raise UsageError(f"the run finished but writing --out {args.out} failed: {error.strerror or error}; "
                             "free some space or choose another folder, and train again.") from None
        print(f"wrote {args.out}", file=sys.stderr)
    if diverged is not None:
        if not keep_weights:
            diverged += (" No finite weights were left to keep, so --out holds only metrics.json and "
                         "history.csv." if args.out is not None else " No finite weights were left to keep.")
        return _fail(diverged, EXIT_DIVERGED)
    return 0


def truth_scores(model, data) -> dict[str, float]:
    """``mmcs`` of the learned atoms to the data set's true atoms, when it has them (``{}`` otherwise)."""
    truth = data.truth
    atoms = getattr(model, "components_", None)
    if truth is None or atoms is None or np.shape(truth)[1:] != np.shape(atoms)[1:]:
        return {}
    return {"mmcs": metrics.mmcs(truth, atoms)}


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
