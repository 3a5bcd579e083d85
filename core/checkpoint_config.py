"""What a checkpoint's ``config.json`` holds (``core.checkpoint``): the format's names, plain-JSON values, and
the validation of a config read back, each problem a ``CheckpointError`` that names it and the fix."""

from __future__ import annotations

import json
import numbers
from typing import Any

import numpy as np

from core import models, schedule

FORMAT = "sae-nmf-explorer"
VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
#: keys ``save`` writes itself; ``extra_config`` may not override them
RESERVED_KEYS = ("format", "version", "model", "params", "n_features_in", "weights")


_WHAT_A_CONFIG_IS = (f"Give the {CONFIG_FILE} this app saved with a run, unchanged (`python -m core train --out`, "
                     "a run store folder, or the Weights download .zip of Train or Inspect).")


class CheckpointError(ValueError):
    """A checkpoint that cannot be written or read; the message names the problem and the fix."""


def json_safe_params(params: dict[str, Any]) -> dict[str, Any]:
    safe = {}
    for name, value in params.items():
        if name == "random_state" and not (value is None or isinstance(value, numbers.Integral)):
            raise CheckpointError(
                f"random_state must be an int or None to be saved, not a {type(value).__name__}. "
                "Build the model with random_state=<int> (e.g. 0) and fit it again."
            )
        safe[name] = json_safe(value, f"parameter {name!r}")
    return safe


def json_safe(value: Any, what: str) -> Any:
    """``value`` as plain JSON types (numpy scalars become Python numbers, tuples lists)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [json_safe(v, what) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: json_safe(v, what) for k, v in value.items()}
    raise CheckpointError(
        f"{what} is a {type(value).__name__}, which cannot be saved in config.json. "
        "Use plain values (numbers, strings, lists) for model parameters."
    )


def config_bytes(config: dict[str, Any]) -> bytes:
    return (json.dumps(config, indent=2) + "\n").encode("utf-8")


def check_optional_fields(config: dict[str, Any], where: str = "config") -> None:
    shape = config.get("image_shape")
    if shape is not None:
        if (not isinstance(shape, list) or len(shape) not in (2, 3)
                or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
                or int(np.prod(shape)) != config["n_features_in"]):
            raise CheckpointError(
                f"{where}: image_shape {shape!r} must be [height, width] of positive ints whose product is "
                f"n_features_in ({config['n_features_in']}); leave it out for data that are not images."
            )
    data = config.get("data")
    if data is not None and not isinstance(data, str):
        raise CheckpointError(f"{where}: 'data' must be a data set name (a string), not {data!r}.")
    if "schedule" in config:
        try:
            live = models.model_class(config["model"])._live_params
        except ImportError:  # the model cannot be built here anyway: loading it says so
            return
        try:
            schedule.check_schedule(config["schedule"], live, config["params"].get("max_steps"), str(where))
        except ValueError as error:
            raise CheckpointError(str(error)) from None


def parse_config(raw: bytes, where) -> dict[str, Any]:
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{where} is not valid JSON ({error}). {_WHAT_A_CONFIG_IS}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{where} must hold a JSON object, not a {type(config).__name__}.")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{where} is not a {FORMAT} checkpoint (format={config.get('format')!r}). "
                              f"{_WHAT_A_CONFIG_IS}")
    version = config.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{where}: 'version' must be a positive int, not {version!r}.")
    if version > VERSION:
        raise CheckpointError(f"{where} has format version {version}, newer than this app reads ({VERSION}). "
                              "Update the app to load it.")
    name = config.get("model")
    if name not in models.available():
        raise CheckpointError(f"{where}: unknown model {name!r}. Known models: {', '.join(models.available())}.")
    if not isinstance(config.get("params"), dict):
        raise CheckpointError(f"{where}: 'params' must be a JSON object of constructor parameters.")
    n_features = config.get("n_features_in")
    if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
        raise CheckpointError(f"{where}: 'n_features_in' must be a positive int, not {n_features!r}.")
    check_optional_fields(config, str(where))
    return config
