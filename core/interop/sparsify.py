"""EleutherAI sparsify's layout: ``cfg.json`` and ``sae.safetensors``.

Weights: ``encoder.weight`` (d_sae, d_in), ``encoder.bias`` (d_sae), ``W_dec`` (d_sae, d_in), ``b_dec``
(d_in). Codes: the k largest of ``ReLU(encoder(x - b_dec))`` per sample; ``x_hat = codes @ W_dec + b_dec``.
``cfg.json`` holds the ``SparseCoderConfig`` fields and ``d_in``; ``Sae.load_from_disk(folder)`` drops
fields it does not know and loads the weights strictly (exactly these four tensors).

``normalize_decoder`` says whether the decoder rows are unit norm (true of this project's TopK SAEs).
The inputs are the data as prepared in training (see ``PROVENANCE_KEY``): sparsify rescales nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.interop.architectures import PROVENANCE_KEY, InteropError, model_for, row
from core.interop.tensors import Files, SAETensors, check_shapes, config_bytes, of_model, weights_bytes

WEIGHTS_FILE = "sae.safetensors"


def export_files(model, model_name: str, provenance: dict[str, Any]) -> dict[str, bytes]:
    """{file name: bytes} of ``model`` in sparsify's layout; InteropError when sparsify cannot hold it."""
    row(model_name, "sparsify")
    t = of_model(model)
    unit_norm = bool(np.allclose(np.linalg.norm(t.W_dec, axis=1), 1, atol=1e-4))
    config = {
        "activation": "topk", "expansion_factor": max(1, t.d_sae // t.d_in), "normalize_decoder": unit_norm,
        "num_latents": t.d_sae, "k": int(model.k), "multi_topk": False, "skip_connection": False,
        "transcode": False, "d_in": t.d_in, PROVENANCE_KEY: provenance,
    }
    tensors = {"encoder.weight": t.W_enc.T, "encoder.bias": t.b_enc, "W_dec": t.W_dec, "b_dec": t.b_dec}
    return {"cfg.json": config_bytes(config), WEIGHTS_FILE: weights_bytes(tensors, {"format": "sparsify"})}


def read(files: Files) -> tuple[str, dict[str, Any], SAETensors, dict[str, np.ndarray]]:
    """(model name, its parameters, tensors, extra weights) of this project's estimator for a sparsify SAE."""
    config, where = files.config, f"{files.source} (sparsify)"
    d_in = config.get("d_in")
    if not isinstance(d_in, int) or isinstance(d_in, bool) or d_in < 1:
        raise InteropError(f"{where}: 'd_in' must be a positive whole number, not {d_in!r}.")
    for flag, why in (("transcode", "a transcoder predicts another module's output from this input"),
                      ("skip_connection", "its linear skip connection adds x W_skip to every reconstruction"),
                      ("jumprelu", "it codes by JumpReLU thresholds, not top-k")):
        if config.get(flag):
            raise InteropError(f"{where}: {flag} is on: {why}, which this app's SAEs do not compute.")
    if config.get("activation", "topk") != "topk":
        raise InteropError(f"{where}: activation {config.get('activation')!r}: this app reads top-k sparsify "
                           "coders only.")
    d_sae = config.get("num_latents") or d_in * config.get("expansion_factor", 32)
    k = config.get("k")
    if not isinstance(d_sae, int) or d_sae < 1 or not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= d_sae:
        raise InteropError(f"{where}: needs num_latents (or expansion_factor) and k with 1 <= k <= num_latents; "
                           f"got num_latents={d_sae!r}, k={k!r}.")
    expected = {"encoder.weight": (d_sae, d_in), "encoder.bias": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,)}
    check_shapes(files.tensors, expected, f"{where} {files.weights_name}")
    provenance = config.get(PROVENANCE_KEY) if isinstance(config.get(PROVENANCE_KEY), dict) else {}
    model_name = model_for("sparsify", "topk", provenance.get("model"))
    row(model_name, "sparsify")
    params = dict(provenance.get("params") or {}) if provenance.get("model") == model_name else {}
    params["k"] = k
    t = files.tensors
    return model_name, params, SAETensors(t["encoder.weight"].T, t["encoder.bias"], t["W_dec"], t["b_dec"]), {}
