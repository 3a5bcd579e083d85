"""The model zoo: ``available()`` lists names, ``create(name, **params)`` builds a scikit-learn estimator."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any

# name -> (module, class, one-line description). Modules are imported on first use.
_REGISTRY: dict[str, tuple[str, str, str]] = {
    "pca": ("core.models.pca", "PCA", "Principal component analysis, closed form (eigenfaces)"),
    "nmf": ("core.models.nmf", "NMF", "Non-negative matrix factorisation, X ~ WH (MU or HALS)"),
    "linear-ae": ("core.models.linear_ae", "LinearAutoencoder", "Linear autoencoder: reaches the PCA error"),
    "ae": ("core.models.ae", "ShallowAutoencoder", "Shallow non-linear autoencoder (Refinetti & Goldt)"),
    "denoising-ae": ("core.models.denoising_ae", "DenoisingAutoencoder", "Autoencoder trained on corrupted input"),
    "sae-l1": ("core.models.sae_l1", "L1SAE", "Sparse autoencoder: ReLU codes with an L1 penalty"),
    "sae-kl": ("core.models.sae_kl", "KLSAE", "Sparse autoencoder: sigmoid codes, KL to a target rate (CS294A)"),
    "sae-topk": ("core.models.sae_topk", "TopKSAE", "Sparse autoencoder: keep the k largest codes, AuxK loss"),
    "sae-batchtopk": ("core.models.sae_batchtopk", "BatchTopKSAE", "Sparse autoencoder: top k x batch codes per batch"),
    "sae-matryoshka": ("core.models.sae_matryoshka", "MatryoshkaBatchTopKSAE",
                       "Sparse autoencoder: BatchTopK, each nested prefix reconstructs on its own"),
    "sae-gated": ("core.models.sae_gated", "GatedSAE", "Sparse autoencoder: a gate picks latents, L1 on the gate only"),
    "sae-jumprelu": ("core.models.sae_jumprelu", "JumpReLUSAE", "Sparse autoencoder: learned thresholds (JumpReLU)"),
    "nnsae": ("core.models.nnsae", "NonNegativeSAE", "Non-negative sparse autoencoder (NNSAE / NCAE)"),
}


def available() -> list[str]:
    """Names of all models, in the order the UI lists them."""
    return list(_REGISTRY)


def model_class(name: str) -> type:
    if name not in _REGISTRY:
        raise ValueError(f"Unknown model {name!r}. Available models: {', '.join(_REGISTRY)}.")
    module, cls, _ = _REGISTRY[name]
    return getattr(importlib.import_module(module), cls)


def describe(name: str) -> str:
    model_class(name)
    return _REGISTRY[name][2]


def default_params(name: str) -> dict[str, Any]:
    """The constructor parameters of ``name`` and their defaults."""
    signature = inspect.signature(model_class(name).__init__)
    return {p.name: p.default for p in signature.parameters.values() if p.name != "self"}


def create(name: str, **params: Any):
    """Build the estimator ``name`` with ``params``; unknown parameter names raise ValueError."""
    cls = model_class(name)
    allowed = default_params(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"Model {name!r} has no parameter {', '.join(unknown)}. Its parameters: {', '.join(allowed)}."
        )
    return cls(**params)


def name_of(model) -> str:
    """The registry name of a model instance."""
    for name, (module, cls, _) in _REGISTRY.items():
        if type(model).__module__ == module and type(model).__name__ == cls:
            return name
    raise ValueError(f"{type(model).__name__} is not a registered model.")


@dataclass(frozen=True)
class Family:
    """What kind of model a name is, read off its class: the one place pages, sweeps and exports ask.

    sae: a sparse autoencoder (``core.models.sae.BaseSAE``: unit-norm atoms, sparse codes).
    batchable: trains S points of a sweep as one stacked model (``core.sweep.BatchedSAEStack``); every SAE.
    non_negative: accepts only non-negative data (NMF, the non-negative SAE).
    has_k: sparsity set by a number of active codes ``k`` (TopK, BatchTopK).
    iterative: trained step by step (every model but the closed-form PCA).
    autoencoder: an encoder and a decoder trained by gradient steps (``core.models.autoencoder``).
    factorisation: a matrix factorisation X ~ WH fitted by its own updates, no encoder (NMF).
    linear_autoencoder: the linear autoencoder, whose optimum spans PCA's top components.
    """

    sae: bool
    batchable: bool
    non_negative: bool
    has_k: bool
    iterative: bool
    autoencoder: bool = False
    factorisation: bool = False
    linear_autoencoder: bool = False


def family(name: str) -> Family:
    from core.models.autoencoder import BaseAutoencoder
    from core.models.base import IterativeEstimator
    from core.models.linear_ae import LinearAutoencoder
    from core.models.sae import BaseSAE

    cls = model_class(name)
    sae, iterative, autoencoder = issubclass(cls, BaseSAE), issubclass(cls, IterativeEstimator), issubclass(
        cls, BaseAutoencoder)
    return Family(sae=sae, batchable=sae, non_negative=bool(getattr(cls, "_requires_non_negative", False)),
                  has_k="k" in default_params(name), iterative=iterative, autoencoder=autoencoder,
                  factorisation=iterative and not autoencoder, linear_autoencoder=issubclass(cls, LinearAutoencoder))


def sae_models() -> list[str]:
    """Names of the sparse autoencoders, in the UI's order."""
    return [name for name in _REGISTRY if family(name).sae]


def batchable() -> list[str]:
    """Names of the models a sweep trains as one stack (``core.sweep``)."""
    return [name for name in _REGISTRY if family(name).batchable]


def needs_non_negative(name: str) -> bool:
    """Whether model ``name`` only accepts non-negative data (NMF, the non-negative SAE)."""
    return family(name).non_negative


def check_sign(names: list[str] | tuple[str, ...], data_non_negative: bool, data_label: str, fix: str) -> None:
    """Refuse signed data for the models among ``names`` that need non-negative data, before training.

    ``fix`` says how to rescale the data where the caller is (a Data page setting, a CLI option)."""
    needy = [name for name in names if needs_non_negative(name)]
    if needy and not data_non_negative:
        verb = "needs" if len(needy) == 1 else "need"
        raise ValueError(f"{', '.join(needy)} {verb} non-negative data, but {data_label} has values below 0: {fix}")
