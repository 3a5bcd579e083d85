"""Save and load fitted models as ``config.json`` + ``weights.safetensors``; loading never unpickles.

A checkpoint is a directory (``save``/``load``) or a ZIP holding exactly those two files
(``to_bytes``/``from_bytes``, for a download button and an upload). ``config.json`` names the model
in the registry and its constructor parameters; the weights are the named float32 arrays of
``model.get_weights()``. A model whose knobs were moved during its run (``core.schedule``) is saved with
the parameters it started with and a ``schedule`` of its changes, so its run can be replayed. Everything
read back is validated and reported with a ValueError that says what is wrong and how to fix it; pickles
(``torch.save``, ``.pt``, ``.pkl``) are refused, never opened.
What ``config.json`` holds and how it is checked is ``core.checkpoint_config``.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
from safetensors import SafetensorError

from core import models, schedule
from core.checkpoint_config import (  # the format's names, importable from core.checkpoint too
    CONFIG_FILE, FORMAT, RESERVED_KEYS, VERSION, WEIGHTS_FILE, CheckpointError, check_optional_fields,
    config_bytes, json_safe, json_safe_params, parse_config)
from core.zipread import ZIP_ERRORS, MemberTooLarge, read_member

#: refuse archives (or members) larger than this: a ZIP bomb must not exhaust memory
MAX_CHECKPOINT_BYTES = 4 * 2**30
MAX_CONFIG_BYTES = 2**20

_NEVER_UNPICKLED = "Export the weights as safetensors; pickled checkpoints are never loaded, for safety."


# -- writing ---------------------------------------------------------------------------------------
def make_config(model, extra_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``config.json`` content for a fitted ``model`` (JSON-safe), plus ``extra_config``.

    ``extra_config`` may carry ``image_shape`` ((height, width)), ``data`` (the data set's name),
    ``schedule`` (the run's knob changes; by default those in ``model.history_``) and any other JSON-safe
    keys, but none of ``RESERVED_KEYS``. ``params`` are those the run started with.
    """
    return _config_and_weights(model, extra_config)[0]


def _config_and_weights(model, extra_config) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    weights = model.get_weights()  # raises NotFittedError for an unfitted model
    extra = dict(extra_config or {})
    changes = extra.pop("schedule") if "schedule" in extra else schedule.schedule_of(getattr(model, "history_", None))
    config = {
        "format": FORMAT,
        "version": VERSION,
        "model": models.name_of(model),
        # a moved knob's parameter holds its last value: the run is written down as it started, plus its changes
        "params": json_safe_params(schedule.starting_params(model.get_params(deep=False), changes or [])),
        "n_features_in": int(model.n_features_in_),
        "weights": {name: list(array.shape) for name, array in weights.items()},
    }
    if changes:
        extra["schedule"] = changes
    clash = sorted(set(extra) & set(RESERVED_KEYS))
    if clash:
        raise CheckpointError(f"extra_config may not set {clash}: save() writes these keys itself.")
    for key, value in extra.items():
        config[key] = json_safe(value, f"extra_config[{key!r}]")
    check_optional_fields(config)
    return config, weights


def save(model, directory: str | os.PathLike, extra_config: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``directory`` as ``config.json`` and ``weights.safetensors``; return the path.

    A new directory appears at once, complete (written to a temporary sibling, then renamed). In an
    existing directory each file is replaced atomically and other files are left alone.
    """
    directory = Path(directory)
    config, weights = _config_and_weights(model, extra_config)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory} exists and is not a directory; choose another output path.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    if directory.is_dir() and any(directory.iterdir()):
        # os.replace cannot swap a non-empty directory: replace the two files one by one instead
        write_atomic(directory / WEIGHTS_FILE, _weights_bytes(weights, config))
        write_atomic(directory / CONFIG_FILE, config_bytes(config))
        return directory
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        safetensors.numpy.save_file(weights, staging / WEIGHTS_FILE, metadata=_metadata(config))
        (staging / CONFIG_FILE).write_bytes(config_bytes(config))
        # mkdtemp (and safetensors) make private files; a saved run is an ordinary folder
        os.chmod(staging / WEIGHTS_FILE, 0o644)
        os.chmod(staging, 0o755)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def to_bytes(model, extra_config: dict[str, Any] | None = None) -> bytes:
    """A ZIP archive holding ``config.json`` and ``weights.safetensors`` (for a download button)."""
    config, weights = _config_and_weights(model, extra_config)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(CONFIG_FILE, config_bytes(config), compress_type=zipfile.ZIP_DEFLATED)
        # float32 weights barely compress: store them, so large models zip instantly
        archive.writestr(WEIGHTS_FILE, _weights_bytes(weights, config), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def _metadata(config: dict[str, Any]) -> dict[str, str]:
    # safetensors metadata is str -> str: enough to tell what a lone weights file belongs to
    return {"format": FORMAT, "version": str(VERSION), "model": config["model"]}


def _weights_bytes(weights: dict[str, np.ndarray], config: dict[str, Any]) -> bytes:
    return safetensors.numpy.save(weights, metadata=_metadata(config))


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder: never a partial file."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes it private
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# -- reading ---------------------------------------------------------------------------------------
def load(source: str | os.PathLike, *, device: str | None = None, return_config: bool = False):
    """Rebuild a fitted model from a checkpoint directory or a ``.zip`` made by ``to_bytes``.

    ``device`` overrides the saved device (a model saved on a GPU loads on a CPU-only machine
    anyway: an unavailable saved device falls back to 'cpu'). With ``return_config`` the result is
    ``(model, config)``, the config carrying e.g. ``image_shape`` and ``data``.
    """
    path = Path(source)
    if path.is_dir():
        config = parse_config(_read_limited(path / CONFIG_FILE, MAX_CONFIG_BYTES), path / CONFIG_FILE)
        weights = _read_weights(_read_limited(path / WEIGHTS_FILE, MAX_CHECKPOINT_BYTES), path / WEIGHTS_FILE)
        return _build(config, weights, device, return_config)
    if not path.exists():
        raise CheckpointError(f"No checkpoint at {path}: expected a directory with {CONFIG_FILE} "
                              f"and {WEIGHTS_FILE}, or a .zip of both.")
    return from_bytes(_read_limited(path, MAX_CHECKPOINT_BYTES), device=device,
                      return_config=return_config, source=str(path))


def from_bytes(data: bytes, *, device: str | None = None, return_config: bool = False, source: str = "the upload"):
    """Rebuild a fitted model from the bytes of a checkpoint ZIP (an upload); see ``load``."""
    data = bytes(data)
    if not data.startswith(b"PK"):
        raise CheckpointError(f"{source} is not a checkpoint ZIP: it looks like {_sniff(data)}. "
                              f"Give the .zip saved by this app (config.json + weights.safetensors). "
                              f"{_NEVER_UNPICKLED}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as error:
        raise CheckpointError(f"{source} is not a readable ZIP ({error}); it may be truncated. "
                              "Download or save the checkpoint again.") from None
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        names = [info.filename for info in archive.infolist()]
        if "data.pkl" in {Path(n).name for n in names}:
            raise CheckpointError(f"{source} is a PyTorch pickle checkpoint (torch.save). {_NEVER_UNPICKLED}")
        if sorted(names) != sorted([CONFIG_FILE, WEIGHTS_FILE]):
            raise CheckpointError(f"{source} must hold exactly {CONFIG_FILE} and {WEIGHTS_FILE} at its top level; "
                                  f"it holds {names[:10]}. Zip only those two files.")
        config_bytes = _read_member(archive, members[CONFIG_FILE], MAX_CONFIG_BYTES, source)
        weights_bytes = _read_member(archive, members[WEIGHTS_FILE], MAX_CHECKPOINT_BYTES, source)
    config = parse_config(config_bytes, f"{source}:{CONFIG_FILE}")
    weights = _read_weights(weights_bytes, f"{source}:{WEIGHTS_FILE}")
    return _build(config, weights, device, return_config)


def read_config(source: str | os.PathLike) -> dict[str, Any]:
    """The validated ``config.json`` of a checkpoint, without loading the weights: ``source`` is a checkpoint
    directory, its ``config.json`` file, or a checkpoint ``.zip`` (the download)."""
    path = Path(source)
    if path.is_dir():
        path = path / CONFIG_FILE
    raw = _read_limited(path, MAX_CHECKPOINT_BYTES if path.suffix.lower() == ".zip" else MAX_CONFIG_BYTES)
    if not raw.startswith(b"PK"):
        return parse_config(raw, path)
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise CheckpointError(f"{path} is not a readable ZIP ({error}); it may be truncated. "
                              "Download or save the checkpoint again.") from None
    with archive:
        if CONFIG_FILE not in archive.namelist():
            raise CheckpointError(f"{path} holds no {CONFIG_FILE}; give the .zip saved by this app, or its "
                                  f"{CONFIG_FILE}.")
        config_bytes = _read_member(archive, archive.getinfo(CONFIG_FILE), MAX_CONFIG_BYTES, str(path))
    return parse_config(config_bytes, f"{path}:{CONFIG_FILE}")


# -- helpers: weights ------------------------------------------------------------------------------
def _sniff(head: bytes) -> str:
    """A guess at what a non-safetensors file is, for the error message."""
    if not head:
        return "an empty file"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (e.g. torch.save / .pt / .pkl)"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (the format of torch.save / .pt files)"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy file"
    if len(head) > 8 and head[8:9] == b"{":
        return "a lone safetensors file (the weights without their config.json)"
    return "neither safetensors nor a known format"


def _read_weights(raw: bytes, where) -> dict[str, np.ndarray]:
    # the safetensors parser only reads a JSON header and raw buffers: safe on any bytes, pickles included
    try:
        return safetensors.numpy.load(raw)
    except SafetensorError as error:
        kind = _sniff(raw[:16])
        if "lone safetensors" in kind:
            kind = f"a damaged safetensors file ({error}; it may be truncated)"
        raise CheckpointError(f"{where} is not a valid safetensors file: it looks like {kind}. "
                              f"{_NEVER_UNPICKLED}") from None


def _read_limited(path: Path, limit: int) -> bytes:
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: a checkpoint directory holds {CONFIG_FILE} and {WEIGHTS_FILE}.")
    if path.stat().st_size > limit:
        raise CheckpointError(f"{path} is larger than {limit} bytes; it is not a checkpoint of this app.")
    return path.read_bytes()


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, source: str) -> bytes:
    if info.file_size > limit:
        raise CheckpointError(f"{source}: {info.filename} unpacks to {info.file_size} bytes, over the limit of {limit}.")
    try:
        raw = read_member(archive, info, limit)  # never trust the declared size alone
    except MemberTooLarge:
        raise CheckpointError(f"{source}: {info.filename} is over the limit of {limit} bytes.") from None
    except ZIP_ERRORS as error:
        raise CheckpointError(f"{source}: {info.filename} cannot be read ({error}); the ZIP may be truncated. "
                              "Download or save the checkpoint again.") from None
    return raw


def usable_device(saved: Any, override: str | None = None) -> Any:
    """``override`` when given, else the ``saved`` device where it exists here, else 'cpu'."""
    if override is not None:
        return override
    from core.device import resolve_device

    try:
        resolve_device(saved)
    except ValueError:  # e.g. saved on a GPU, loaded where there is none
        return "cpu"
    return saved


def _build(config: dict[str, Any], weights: dict[str, np.ndarray], device: str | None, return_config: bool):
    name, params, n_features = config["model"], dict(config["params"]), config["n_features_in"]
    try:
        cls = models.model_class(name)
    except ImportError as error:
        raise CheckpointError(f"Model {name!r} cannot be imported here ({error}); "
                              "install the version of the app that saved it.") from None
    if "device" in models.default_params(name):
        params["device"] = usable_device(params.get("device", "auto"), device)
    try:
        model = models.create(name, **params)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"config.json: cannot build {name!r} from its saved params: {error}") from None
    expected = list(cls._weight_names)
    missing = [n for n in expected if n not in weights]
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"The weights do not belong to a {name!r} model: missing {missing}, unexpected {unexpected}. "
            "Keep config.json and weights.safetensors from the same save."
        )
    for weight_name, array in weights.items():
        if not np.issubdtype(array.dtype, np.floating):
            raise CheckpointError(f"Weight {weight_name!r} has dtype {array.dtype}; weights must be floats.")
    saved_shapes = config.get("weights")
    if isinstance(saved_shapes, dict):
        for weight_name, array in weights.items():
            if weight_name in saved_shapes and list(array.shape) != saved_shapes[weight_name]:
                raise CheckpointError(f"Weight {weight_name!r} has shape {list(array.shape)} but config.json says "
                                      f"{saved_shapes[weight_name]}; the two files come from different saves.")
    atoms = weights[expected[0]]
    n_components = params.get("n_components")
    if atoms.ndim != 2 or atoms.shape[1] != n_features or (
            isinstance(n_components, int) and atoms.shape[0] != n_components):
        raise CheckpointError(
            f"{expected[0]} has shape {list(atoms.shape)}, but config.json says n_components={n_components} "
            f"and n_features_in={n_features}; the two files come from different saves."
        )
    # copies: arrays read from bytes may be read-only, which torch warns about
    model.set_weights({k: np.array(v, dtype=np.float32) for k, v in weights.items()}, n_features)
    return (model, config) if return_config else model
