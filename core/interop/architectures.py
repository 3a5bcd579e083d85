"""Which of this project's SAEs each outside format can hold, as one table: a new SAE is one row.

Both formats compute ``pre = (x - b_dec) W_enc + b_enc`` (SAELens with ``apply_b_dec_to_input``, sparsify
always) and ``x_hat = codes W_dec + b_dec``, as every ``core.models.sae.BaseSAE`` does; they differ in the
activation that turns ``pre`` into codes. A row says which outside class computes the same codes as the
model, from the same tensors:

- ``saelens``: SAELens' architecture name (the inference class it loads): 'standard' is ReLU, 'topk' keeps
  the k largest of each sample and ReLUs them, 'jumprelu' is ReLU(pre) where pre > a per-latent threshold,
  'gated' is 1[pre > 0] * ReLU(exp(r_mag) * (pre - b_gate) + b_mag). SAELens saves a trained BatchTopK (and
  Matryoshka BatchTopK) SAE as 'jumprelu': its inference uses one threshold instead of the batch, and so
  does this project's.
- ``sparsify``: EleutherAI's sparsify holds TopK coders only (ReLU, then the k largest per sample).
- ``extra`` / ``extra_out`` / ``extra_in``: SAELens' per-latent tensors beyond the shared four (JumpReLU's
  ``threshold``, Gated's ``r_mag`` and ``b_mag``), made from the model's fitted arrays and back.

On import, an outside architecture becomes the first row that names it (a 'standard' SAE becomes
``sae-l1``), unless the file says which of this project's models wrote it (``PROVENANCE_KEY``).
A model without a row is refused with ``why_not`` (or, not being an SAE, with ``NOT_AN_SAE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

FORMATS = ("saelens", "sparsify")
#: the cfg.json key that records which of this project's models (and data) an export came from; both
#: libraries drop keys they do not know
PROVENANCE_KEY = "sae_nmf_explorer"
NOT_AN_SAE = ("{model} is not a sparse autoencoder (no encoder of the form ReLU((x - b_dec) W_enc + b_enc)); "
              "SAELens and sparsify hold sparse autoencoders only. Export it with the Weights download "
              "(core.checkpoint) instead, or train an SAE ({saes}).")


class InteropError(ValueError):
    """An SAE that cannot be exported or imported; the message names the problem and the fix."""


def _threshold_out(model) -> dict[str, np.ndarray]:
    return {"threshold": np.asarray(model.threshold_, dtype=np.float32).reshape(-1)}


def _threshold_in(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    # SAELens: ReLU(pre) * (pre > theta). For theta < 0 that is pre * (pre > 0): this project's JumpReLU,
    # pre * (pre > theta), computes the same with theta clipped at 0.
    return {"threshold_": np.maximum(tensors["threshold"], 0).astype(np.float32)}


def _one_threshold_out(model) -> dict[str, np.ndarray]:
    d_sae = np.shape(model.components_)[0]
    return {"threshold": np.full(d_sae, float(np.asarray(model.threshold_).reshape(-1)[0]), dtype=np.float32)}


def _one_threshold_in(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    threshold = tensors["threshold"]
    if threshold.size and not np.all(threshold == threshold.flat[0]):
        raise InteropError("A BatchTopK SAE has one threshold for every latent, but this file's thresholds differ "
                           "between latents; import it as sae-jumprelu (leave out the provenance).")
    return {"threshold_": np.array([max(float(threshold.flat[0]) if threshold.size else 0.0, 0.0)], dtype=np.float32)}


def _gate_out(model) -> dict[str, np.ndarray]:
    return {"r_mag": np.log(np.asarray(model.magnitude_scale_, dtype=np.float32)),
            "b_mag": np.asarray(model.magnitude_bias_, dtype=np.float32)}


def _gate_in(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"magnitude_scale_": np.exp(tensors["r_mag"]).astype(np.float32), "magnitude_bias_": tensors["b_mag"]}


@dataclass(frozen=True)
class Architecture:
    saelens: str | None
    sparsify: bool
    why_not: str = ""
    has_k: bool = False
    #: SAELens' name for the encoder bias (a Gated SAE calls it b_gate)
    b_enc_name: str = "b_enc"
    #: SAELens' per-latent tensors beyond W_enc, b_enc, W_dec, b_dec, each of shape (d_sae,)
    extra: tuple[str, ...] = ()
    extra_out: Callable[[object], dict[str, np.ndarray]] | None = None  # the model -> those tensors
    extra_in: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None  # them -> model weights

    def holds(self, fmt: str) -> bool:
        return self.saelens is not None if fmt == "saelens" else self.sparsify


_TOPK_ONLY = "sparsify holds TopK coders only (the k largest codes of each sample)"
_BATCH = ("a sample's codes are those above its learned threshold, not its k largest (export it to SAELens, "
          "which loads it as JumpReLU)")
_JUMP = {"extra": ("threshold",), "extra_out": _threshold_out, "extra_in": _threshold_in}
_ONE_THRESHOLD = {"extra": ("threshold",), "extra_out": _one_threshold_out, "extra_in": _one_threshold_in}
#: this project's model name -> what each format can hold of it (order matters for imports, see above)
TABLE: dict[str, Architecture] = {
    "sae-l1": Architecture("standard", False, f"{_TOPK_ONLY}; ReLU codes with an L1 penalty are not top-k"),
    "sae-topk": Architecture("topk", True, has_k=True),
    "sae-jumprelu": Architecture("jumprelu", False, f"{_TOPK_ONLY}; JumpReLU thresholds are not top-k", **_JUMP),
    "sae-batchtopk": Architecture("jumprelu", False, f"{_TOPK_ONLY}; in a BatchTopK SAE {_BATCH}", **_ONE_THRESHOLD),
    "sae-matryoshka": Architecture("jumprelu", False, f"{_TOPK_ONLY}; in a Matryoshka BatchTopK SAE {_BATCH}",
                                   **_ONE_THRESHOLD),
    "sae-gated": Architecture("gated", False, f"{_TOPK_ONLY}; a Gated SAE's gate opens by sign, not top-k",
                              b_enc_name="b_gate", extra=("r_mag", "b_mag"), extra_out=_gate_out, extra_in=_gate_in),
    "nnsae": Architecture("standard", False, f"{_TOPK_ONLY}; the non-negative SAE's ReLU codes are not top-k"),
    "sae-kl": Architecture(None, False, "its codes are sigmoids, which neither SAELens nor sparsify computes "
                                        "(both use ReLU-based activations)"),
}


def row(model_name: str, fmt: str) -> Architecture:
    """The table's row for exporting ``model_name`` to ``fmt``; InteropError saying why when it cannot."""
    from core import models

    if fmt not in FORMATS:
        raise InteropError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    found = TABLE.get(model_name)
    if found is None:
        if model_name in models.available() and not models.family(model_name).sae:
            exportable = ", ".join(name for name, found in TABLE.items() if found.saelens or found.sparsify)
            raise InteropError(NOT_AN_SAE.format(model=model_name, saes=exportable))
        raise InteropError(f"{model_name} has no entry in core.interop.architectures.TABLE, so it cannot be "
                           f"exported to {fmt} yet; add its row there.")
    if not found.holds(fmt):
        name = "SAELens" if fmt == "saelens" else "sparsify"
        other = ["SAELens" if f == "saelens" else "sparsify" for f in FORMATS if f != fmt and found.holds(f)]
        hint = f" Export it to {other[0]} instead." if other else ""
        raise InteropError(f"{model_name} cannot be exported to {name}: {found.why_not}.{hint}")
    return found


def model_for(fmt: str, architecture: str, provenance_model: object = None) -> str:
    """This project's model for an outside SAE: the provenance's model when it matches, else the first row."""
    if isinstance(provenance_model, str) and provenance_model in TABLE:
        found = TABLE[provenance_model]
        if found.holds(fmt) and (fmt == "sparsify" or found.saelens == architecture):
            return provenance_model
    for name, found in TABLE.items():
        if found.holds(fmt) and (fmt == "sparsify" or found.saelens == architecture):
            return name
    known = sorted({r.saelens for r in TABLE.values() if r.saelens})
    raise InteropError(f"Unknown SAELens architecture {architecture!r}: this app reads {', '.join(known)}. "
                       "Convert the SAE to one of those, or add a row to core.interop.architectures.TABLE.")
