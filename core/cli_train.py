"""``python -m core train --config config.json``: replay a saved run.

A run's ``config.json`` (the Train page's download, a run store folder, or ``train --out``) holds the model,
the parameters the run started with, its data set with the options it was loaded with, and the ``schedule``
of knobs moved during the run (``core.schedule``). Replaying trains the same model on the same data and
applies each change before the same step, so that, with the same seed on the same device, it reaches the
same weights. A run of ``train --data FILE`` records the file's absolute path (``data_path``), so its replay
finds the file from any folder; the app's runs on an uploaded file name only the file (``upload: NAME``), and
``--data PATH`` gives it (or any data moved elsewhere).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Callable

from core import checkpoint, datasets, models
from core.interop import UPLOAD_PREFIX
from core.schedule import ScheduledControl, check_schedule

# flags that would make the replay a different run: the config says these
_FIXED_BY_CONFIG = {"model": "--model", "n_components": "--n-components", "k": "--k", "max_steps": "--max-steps",
                    "params": "--set", "data_options": "--data-option", "n_samples": "--n-samples"}


class ReplayError(ValueError):
    """A replay that cannot run as asked; the message says what to change (the CLI prints it, exit 2)."""


def register(train: argparse.ArgumentParser, train_command: Callable[..., int]) -> None:
    """Add ``--config`` to the ``train`` command (``core.cli``'s ``train_command``, passed in: this module
    does not import the CLI that imports it), whose handler becomes ``train_or_replay``."""
    train.add_argument("--config", type=Path, metavar="CONFIG",
                       help="replay a saved run: its config.json (or checkpoint folder, or the .zip download) "
                            "gives the model, its starting parameters, the data set and its options, and the "
                            "knob changes made during the run, each applied before the same step; --data "
                            "PATH points to data that was an upload; --device, --out, --quiet, --yes apply")
    train.set_defaults(handler=functools.partial(train_or_replay, train_command=train_command))


def train_or_replay(args: argparse.Namespace, train_command: Callable[..., int]) -> int:
    """``train``: as the flags say, or, with ``--config``, as the saved run went."""
    if args.config is None:
        missing = [flag for flag, value in (("--data", args.data), ("--model", args.model)) if value is None]
        if missing:
            raise ReplayError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required (or "
                                 "--config CONFIG, to replay a saved run). See `python -m core train --help`.")
        return train_command(args)
    control = replay_settings(args)
    return train_command(args, control=control)


def recorded_data(config: dict, where: Path) -> str:
    """What the saved run trained on, as ``--data`` takes it: its recorded file (never another of the same name),
    else the data set it names; ReplayError saying what to pass with ``--data`` when it is not found here."""
    name, path = config.get("data"), config.get("data_path")
    if isinstance(path, str):
        if Path(path).exists():
            return path
        raise ReplayError(f"{where} trained on the file {path}, which is not there any more; give the file where "
                          "it is now with --data PATH.")
    if datasets.is_builtin(name) or (isinstance(name, str) and Path(name).exists()):
        return name
    if not isinstance(name, str) or not name:
        raise ReplayError(f"{where} does not name its data set ('data'); give it with --data NAME or PATH.")
    upload = name.removeprefix(UPLOAD_PREFIX)
    if upload != name:
        raise ReplayError(f"{where} trained on an uploaded file, {upload}, whose path the app never knew; give the "
                          f"file with --data PATH/TO/{upload}.")
    raise ReplayError(f"{where} trained on {name!r}, which is neither a data set here nor a file in {Path.cwd()}; "
                      f"give it with --data PATH (the file {name} where it is now).")


def replay_settings(args: argparse.Namespace) -> ScheduledControl:
    """Set ``args`` from ``args.config`` (model, parameters, data set and its options) and return the control
    that replays its schedule; flags that would change the run are refused."""
    clash = [flag for name, flag in _FIXED_BY_CONFIG.items() if getattr(args, name) not in (None, [])]
    clash += ["--seed"] if args.seed != 0 else []
    if clash:
        raise ReplayError(f"--config replays the saved run as it was, so {', '.join(clash)} cannot be given "
                             "with it; to train a variant, edit 'params' or 'data_options' in the config file.")
    config = checkpoint.read_config(args.config)
    if config.get("imported_from"):
        raise ReplayError(f"{args.config} is an SAE imported from {config['imported_from']}, not trained by this app, "
                          f"so there is no run to replay; train a new one with `python -m core train --model "
                          f"{config['model']} --data ...`.")
    data = args.data or recorded_data(config, args.config)
    params = dict(config["params"])
    if "device" in params:
        params["device"] = checkpoint.usable_device(params["device"], args.device)
    try:
        live = models.model_class(config["model"])._live_params
    except ImportError as error:
        raise ReplayError(f"model {config['model']!r} cannot be imported here ({error}); install the version "
                             "of the app that saved it.") from None
    schedule = check_schedule(config.get("schedule"), live, params.get("max_steps"), str(args.config))
    steps = config.get("steps")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
        raise ReplayError(f"{args.config}: 'steps' (the steps the run trained) must be a whole number from 1, "
                          f"not {steps!r}; remove it to train all max_steps.")
    args.model, args.data, args.device = config["model"], data, None
    args.params = list(params.items())
    # JSON keeps tuples (an image_shape) as lists; the data set takes them as the app gave them
    args.data_options = [(key, tuple(value) if isinstance(value, list) else value)
                         for key, value in (config.get("data_options") or {}).items()]
    stopped = steps is not None and steps < int(params.get("max_steps") or 0)
    if schedule or stopped:
        changes = f"{len(schedule)} knob change{'' if len(schedule) == 1 else 's'}"
        print(f"note: replaying {changes} from {args.config}" + (f", stopping after step {steps} as the run was "
              "stopped there" if stopped else ""), file=sys.stderr)
    return ScheduledControl(schedule, stop_after=steps if stopped else None)
