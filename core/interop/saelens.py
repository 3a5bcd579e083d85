"""SAELens' layout (version 6): ``cfg.json`` and ``sae_weights.safetensors``.

Weights: ``W_enc`` (d_in, d_sae), ``b_enc`` (d_sae), ``W_dec`` (d_sae, d_in), ``b_dec`` (d_in), and for
'jumprelu' ``threshold`` (d_sae); 'gated' calls b_enc ``b_gate`` and adds ``r_mag``, ``b_mag``. Codes:
``pre = (x - b_dec * apply_b_dec_to_input) @ W_enc + b_enc``; 'standard' ReLU(pre); 'topk' the k largest
of each row, ReLU'd; 'jumprelu' ReLU(pre) * (pre > threshold) (see ``core.interop.architectures``).
``x_hat = codes @ W_dec + b_dec``. ``SAE.load_from_disk(folder)`` reads it (v6 takes the config's
top-level fields its class knows and builds ``meta`` from the ``meta`` object).

What the cfg says is true of the exported model: ``apply_b_dec_to_input`` is the model's ``decoder_bias``
(without one, b_dec is 0 and centring changes nothing), ``normalize_activations`` is 'none' because the
SAE scales nothing itself: it expects its data prepared as it was in training (scale / center data
options, recorded under ``PROVENANCE_KEY``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.interop.architectures import PROVENANCE_KEY, InteropError, model_for, row
from core.interop.tensors import Files, SAETensors, check_shapes, config_bytes, of_model, weights_bytes

WEIGHTS_FILE = "sae_weights.safetensors"
#: the config layout written: SAELens 6 (a version in ``meta`` tells its loader not to convert an old one)
LAYOUT_VERSION = "6.0.0"
#: per-sample rescalings SAELens can apply before encoding; this project's SAEs apply none
_RESCALING_REFUSED = ("constant_norm_rescale", "layer_norm", "expected_average_only_in")


def export_files(model, model_name: str, provenance: dict[str, Any]) -> dict[str, bytes]:
    """{file name: bytes} of ``model`` in SAELens' layout; InteropError when SAELens cannot hold it."""
    architecture = row(model_name, "saelens")
    t = of_model(model)
    tensors = {"W_enc": t.W_enc, "W_dec": t.W_dec, architecture.b_enc_name: t.b_enc, "b_dec": t.b_dec}
    config: dict[str, Any] = {
        "architecture": architecture.saelens, "d_in": t.d_in, "d_sae": t.d_sae, "dtype": "float32", "device": "cpu",
        "apply_b_dec_to_input": bool(getattr(model, "decoder_bias", True)), "normalize_activations": "none",
        "reshape_activations": "none",
        # only fields every SAELens 6 knows (its loader passes meta to SAEMetadata(**meta))
        "meta": {"model_name": None, "hook_name": None, "sae_lens_version": LAYOUT_VERSION,
                 "sae_lens_training_version": None},
    }
    if architecture.has_k:
        config["k"] = int(model.k)
        config["rescale_acts_by_decoder_norm"] = False
    if architecture.extra_out is not None:
        tensors.update(architecture.extra_out(model))
    config[PROVENANCE_KEY] = provenance
    metadata = {"format": "saelens", "architecture": architecture.saelens}
    return {"cfg.json": config_bytes(config), WEIGHTS_FILE: weights_bytes(tensors, metadata)}


def _int(config: dict[str, Any], key: str, where: str) -> int:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InteropError(f"{where}: '{key}' must be a positive whole number, not {value!r}.")
    return value


def read(files: Files) -> tuple[str, dict[str, Any], SAETensors, dict[str, np.ndarray]]:
    """(model name, its parameters, tensors, extra weights) of this project's estimator for an SAELens SAE."""
    config, where = files.config, f"{files.source} (SAELens)"
    architecture = config.get("architecture", "standard")
    d_in, d_sae = _int(config, "d_in", where), _int(config, "d_sae", where)
    provenance = config.get(PROVENANCE_KEY) if isinstance(config.get(PROVENANCE_KEY), dict) else {}
    model_name = model_for("saelens", str(architecture), provenance.get("model"))
    spec = row(model_name, "saelens")
    normalize = config.get("normalize_activations", "none")
    if normalize in _RESCALING_REFUSED:
        raise InteropError(f"{where}: normalize_activations is {normalize!r}: SAELens rescales each input before "
                           "encoding, which this app's SAEs do not. Fold the scaling into the weights first "
                           "(SAELens: sae.fold_activation_norm_scaling_factor(...)) and save with 'none'.")
    activation = config.get("activation_fn", config.get("activation_fn_str", "relu"))
    if activation not in ("relu", "topk", None):
        raise InteropError(f"{where}: activation {activation!r} is not ReLU-based; this app reads ReLU, TopK and "
                           "JumpReLU SAEs.")
    tensors = dict(files.tensors)
    scaling = tensors.pop("scaling_factor", tensors.pop("finetuning_scaling_factor", None))
    if scaling is not None and not np.allclose(scaling, 1):
        raise InteropError(f"{where}: a fine-tuning scaling factor multiplies the codes; fold it into W_dec "
                           "first (this app's SAEs have none).")
    expected = {"W_enc": (d_in, d_sae), "W_dec": (d_sae, d_in), spec.b_enc_name: (d_sae,), "b_dec": (d_in,),
                **{name: (d_sae,) for name in spec.extra}}
    check_shapes(tensors, expected, f"{where} {files.weights_name}")
    b_enc = tensors[spec.b_enc_name]
    if config.get("apply_b_dec_to_input", True) is False:
        if spec.b_enc_name != "b_enc":
            raise InteropError(f"{where}: apply_b_dec_to_input is false; this app reads a {architecture} SAE only "
                               "with its input centred by b_dec (as SAELens trains them).")
        # pre = x W_enc + b_enc = (x - b_dec) W_enc + (b_enc + b_dec W_enc): the same codes, centred
        b_enc = (b_enc.astype(np.float64) + tensors["b_dec"].astype(np.float64) @ tensors["W_enc"]).astype(np.float32)
    if config.get("rescale_acts_by_decoder_norm") and not np.allclose(np.linalg.norm(tensors["W_dec"], axis=1), 1,
                                                                      atol=1e-4):
        raise InteropError(f"{where}: rescale_acts_by_decoder_norm is on and the decoder rows are not unit norm; "
                           "fold the norms into the encoder first (SAELens: sae.fold_W_dec_norm()).")
    params = dict(provenance.get("params") or {}) if provenance.get("model") == model_name else {}
    if spec.has_k:
        k = config.get("k", (config.get("activation_fn_kwargs") or {}).get("k"))
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= d_sae:
            raise InteropError(f"{where}: a TopK SAE needs k, a whole number from 1 to d_sae={d_sae}; cfg.json "
                               f"has {k!r}.")
        params["k"] = k
    extra = spec.extra_in(tensors) if spec.extra_in is not None else {}
    return model_name, params, SAETensors(tensors["W_enc"], b_enc, tensors["W_dec"], tensors["b_dec"]), extra
