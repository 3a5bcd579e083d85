"""An SAE's tensors as the outside formats orient them, and the files that carry them.

``SAETensors`` is the one meeting point: this project's fitted SAE becomes one (``of_model``), a format
writes it (``core.interop.saelens`` / ``sparsify``), a format's files become one, and it becomes this
project's estimator again (``to_model``). Files are read from a folder or a ZIP with bounded sizes;
weights only through safetensors (never a pickle).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from safetensors import SafetensorError

from core import checkpoint, models
from core.interop.architectures import InteropError
from core.zipread import ZIP_ERRORS, MemberTooLarge, read_member

CONFIG_FILE = "cfg.json"


@dataclass
class SAETensors:
    """codes = activation((x - b_dec) @ W_enc + b_enc), x_hat = codes @ W_dec + b_dec (float32 arrays)."""

    W_enc: np.ndarray  # (d_in, d_sae)
    b_enc: np.ndarray  # (d_sae,)
    W_dec: np.ndarray  # (d_sae, d_in)
    b_dec: np.ndarray  # (d_in,)
    threshold: np.ndarray | None = None  # (d_sae,): JumpReLU's per-latent threshold

    @property
    def d_in(self) -> int:
        return int(self.W_dec.shape[1])

    @property
    def d_sae(self) -> int:
        return int(self.W_dec.shape[0])


def of_model(model) -> SAETensors:
    """A fitted SAE's tensors (``decoder_bias=False`` gives a zero b_dec: centring by it changes nothing)."""
    weights = model.get_weights()  # NotFittedError for an unfitted model
    return SAETensors(W_enc=np.ascontiguousarray(weights["encoder_weight_"].T), b_enc=weights["encoder_bias_"],
                      W_dec=weights["components_"], b_dec=weights["decoder_bias_"])


def to_model(model_name: str, params: dict[str, Any], tensors: SAETensors, extra: dict[str, np.ndarray]):
    """This project's fitted estimator ``model_name`` holding ``tensors`` (plus e.g. ``threshold_``)."""
    allowed = models.default_params(model_name)
    kept = {k: v for k, v in params.items() if k in allowed}
    kept["n_components"] = tensors.d_sae
    if "device" in allowed:  # a file's device may not exist here; transform runs anywhere
        kept["device"] = "cpu"
    try:
        model = models.create(model_name, **kept)
    except (TypeError, ValueError) as error:
        raise InteropError(f"Cannot build {model_name} from the file's settings: {error}") from None
    weights = {"components_": tensors.W_dec, "encoder_weight_": np.ascontiguousarray(tensors.W_enc.T),
               "encoder_bias_": tensors.b_enc, "decoder_bias_": tensors.b_dec, **extra}
    return model.set_weights({k: np.array(v, dtype=np.float32) for k, v in weights.items()}, tensors.d_in)


def check_shapes(tensors: dict[str, np.ndarray], expected: dict[str, tuple[int, ...]], where: str) -> None:
    """Every expected tensor present with its shape; nothing else; finite floats."""
    missing = [name for name in expected if name not in tensors]
    if missing:
        raise InteropError(f"{where} lacks the tensor(s) {missing}; it holds {sorted(tensors)}. "
                           f"A complete file holds {sorted(expected)}.")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise InteropError(f"{where} holds tensor(s) {unexpected} that this architecture does not use "
                           f"(it uses {sorted(expected)}); it may be another architecture than its cfg.json says.")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise InteropError(f"{where}: tensor {name} has shape {list(tensors[name].shape)}, but cfg.json's sizes "
                               f"say {list(shape)}; the weights and cfg.json come from different SAEs.")
        if not np.isfinite(tensors[name]).all():
            raise InteropError(f"{where}: tensor {name} holds NaN or infinite values; export the SAE again.")


# -- reading ------------------------------------------------------------------------------------------
@dataclass
class Files:
    """A cfg.json and its weights file, read from a folder or a ZIP."""

    config: dict[str, Any]
    tensors: dict[str, np.ndarray]
    weights_name: str
    source: str


def read_files(path: str | Path, weight_files: tuple[str, ...]) -> Files:
    """cfg.json and the first of ``weight_files`` found beside it, in a folder or a ZIP (at its top level or
    in its one folder)."""
    path = Path(path)
    if path.is_dir():
        names = {p.name: p for p in path.iterdir() if p.is_file()}
        if CONFIG_FILE not in names:
            inner = sorted(p.name for p in path.iterdir() if p.is_dir() and (p / CONFIG_FILE).is_file())
            hint = (f" It has SAEs in the folders {inner[:8]}: import one of them." if inner
                    else _own_checkpoint_hint(path) if checkpoint.CONFIG_FILE in names
                    else " Export the SAE again with its cfg.json.")
            raise InteropError(f"{path} holds no {CONFIG_FILE}.{hint}")
        weights_name = next((n for n in weight_files if n in names), None)
        if weights_name is None:
            raise InteropError(f"{path} has {CONFIG_FILE} but none of {list(weight_files)} beside it; "
                               "copy the weights file into the same folder.")
        config = _bounded(names[CONFIG_FILE], checkpoint.MAX_CONFIG_BYTES)
        weights = _bounded(names[weights_name], checkpoint.MAX_CHECKPOINT_BYTES)
        return Files(_parse_config(config, path / CONFIG_FILE), _parse_weights(weights, path / weights_name),
                     weights_name, str(path))
    if not path.exists():
        raise InteropError(f"No SAE at {path}: give a folder holding {CONFIG_FILE} and {' or '.join(weight_files)}, "
                           "or a .zip of them.")
    if path.stat().st_size > checkpoint.MAX_CHECKPOINT_BYTES:
        raise InteropError(f"{path} is larger than {checkpoint.MAX_CHECKPOINT_BYTES:,} bytes; this app imports "
                           "SAEs up to that size.")
    return read_zip(path.read_bytes(), weight_files, str(path))


def _own_checkpoint_hint(source) -> str:
    return (f" It is this app's own checkpoint ({checkpoint.CONFIG_FILE} + {checkpoint.WEIGHTS_FILE}), not an "
            f"SAELens or sparsify SAE; `python -m core export {source} --format saelens` (or sparsify) converts it.")


def read_zip(data: bytes, weight_files: tuple[str, ...], source: str) -> Files:
    if not data.startswith(b"PK"):
        raise InteropError(f"{source} is neither a folder nor a ZIP. Give the folder holding {CONFIG_FILE} and "
                           f"the weights, or a .zip of it. Pickled files (.pt, .pkl) are never loaded.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS as error:
        raise InteropError(f"{source} is not a readable ZIP ({error}); it may be truncated.") from None
    with archive:
        configs = [info for info in archive.infolist() if Path(info.filename).name == CONFIG_FILE]
        if len(configs) != 1:
            found = "no" if not configs else f"{len(configs)} ({', '.join(i.filename for i in configs[:6])})"
            own = not configs and checkpoint.CONFIG_FILE in archive.namelist()
            raise InteropError(f"{source} holds {found} {CONFIG_FILE} files: a ZIP to import holds one SAE, its "
                               f"{CONFIG_FILE} and weights at the top level or in one folder."
                               + (_own_checkpoint_hint(source) if own else ""))
        folder = str(Path(configs[0].filename).parent)
        members = {Path(i.filename).name: i for i in archive.infolist() if str(Path(i.filename).parent) == folder}
        weights_name = next((n for n in weight_files if n in members), None)
        if weights_name is None:
            raise InteropError(f"{source} has {configs[0].filename} but none of {list(weight_files)} beside it.")
        config = _member(archive, members[CONFIG_FILE], checkpoint.MAX_CONFIG_BYTES, source)
        weights = _member(archive, members[weights_name], checkpoint.MAX_CHECKPOINT_BYTES, source)
    return Files(_parse_config(config, f"{source}:{configs[0].filename}"),
                 _parse_weights(weights, f"{source}:{members[weights_name].filename}"), weights_name, source)


def _bounded(path: Path, limit: int) -> bytes:
    if path.stat().st_size > limit:
        raise InteropError(f"{path} is larger than {limit:,} bytes; it is not an SAE file this app imports.")
    return path.read_bytes()


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, source: str) -> bytes:
    try:
        return read_member(archive, info, limit)
    except MemberTooLarge:
        raise InteropError(f"{source}: {info.filename} inflates past {limit:,} bytes.") from None
    except ZIP_ERRORS as error:
        raise InteropError(f"{source}: {info.filename} cannot be read ({error}); the ZIP may be damaged.") from None


def _parse_config(raw: bytes, where) -> dict[str, Any]:
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InteropError(f"{where} is not valid JSON ({error}).") from None
    if not isinstance(config, dict):
        raise InteropError(f"{where} must hold a JSON object, not a {type(config).__name__}.")
    return config


def _parse_weights(raw: bytes, where) -> dict[str, np.ndarray]:
    # safetensors parses a JSON header and raw buffers only: safe on any bytes. Through torch, because
    # SAEs are often saved in bfloat16, which NumPy has no type for.
    try:
        loaded = safetensors.torch.load(raw)
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise InteropError(f"{where} is not a valid safetensors file ({error}). Pickled weights (.pt, .pkl) "
                           "are never loaded; save the SAE with safetensors.") from None
    out = {}
    for name, tensor in loaded.items():
        if not tensor.is_floating_point():
            raise InteropError(f"{where}: tensor {name} has dtype {tensor.dtype}; SAE weights are floats.")
        out[name] = tensor.to(torch.float32).numpy()
    return out


# -- writing ------------------------------------------------------------------------------------------
def weights_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    # copies: safetensors refuses tensors that share memory (a tied model's encoder is its decoder)
    return safetensors.torch.save({k: torch.from_numpy(np.array(v, dtype=np.float32, order="C"))
                                   for k, v in tensors.items()}, metadata=metadata)


def config_bytes(config: dict[str, Any]) -> bytes:
    return (json.dumps(config, indent=2) + "\n").encode("utf-8")
