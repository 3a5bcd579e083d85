"""The one table of hyperparameter widgets: label, kind, range and help per parameter *name*.

The Train page builds every model's form from ``core.models.default_params(name)`` and this table;
no model has a hand-written form. Parameters not listed here keep their core defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from core import models


@dataclass(frozen=True)
class Knob:
    """How one parameter is shown: 'int'/'float' sliders, 'choice' (a slider over listed values,
    for log-spaced numbers), 'select' (a drop-down) or 'bool' (a toggle)."""

    label: str
    kind: str
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    values: tuple = ()
    help: str = ""
    basic: bool = True


def _log_values(*values: float) -> tuple:
    return tuple(values)


KNOBS: dict[str, Knob] = {
    "n_components": Knob("Atoms (n_components)", "int", 2, 256, 1,
                         help="How many atoms (features) the model learns; more than the input size = overcomplete."),
    "k": Knob("k (active codes per sample)", "int", 1, 64, 1, help="TopK keeps the k largest codes of each sample."),
    "l1_coef": Knob("L1 weight", "choice", values=_log_values(0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0),
                    help="Strength of the L1 penalty on the codes: larger means sparser codes."),
    "l0_coef": Knob("L0 weight", "choice", values=_log_values(0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1),
                    help="Strength of the (smoothed) L0 penalty on the JumpReLU codes."),
    "n_groups": Knob("Nested groups", "int", 1, 8, 1,
                     help="Matryoshka: the dictionary as this many nested prefixes, each twice the one before, "
                          "each trained to reconstruct on its own (1 = plain BatchTopK)."),
    "sparsity_target": Knob("rho (sparsity target)", "float", 0.005, 0.5, 0.005,
                            help="Desired mean activation of each hidden unit (CS294A uses 0.05)."),
    "sparsity_weight": Knob("beta (sparsity weight)", "choice", values=(0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 5.0),
                            help="Weight of the KL sparsity penalty (CS294A: 3)."),
    "learning_rate": Knob("Learning rate", "choice", values=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1),
                          help="Adam step size. Too large and the run diverges."),
    "batch_size": Knob("Batch size", "choice", values=(16, 32, 64, 128, 256, 512, 1024)),
    "max_steps": Knob("Steps", "choice", values=(50, 100, 200, 500, 1000, 2000, 5000, 10000),
                      help="Length of the run (optimiser steps; one NMF step updates W and H once)."),
    "activation": Knob("Activation", "select", values=("sigmoid", "relu", "tanh", "erf", "linear")),
    "tied": Knob("Tied weights", "bool", help="Encoder = decoder transposed."),
    "bias": Knob("Bias", "bool", help="Trainable encoder and decoder biases."),
    "non_negative": Knob("Non-negative atoms", "bool",
                         help="Keep every atom >= 0 (codes are >= 0 already): parts that only add up, as in NMF."),
    "decoder_bias": Knob("Decoder bias", "bool",
                         help="Learn a bias added to every reconstruction (the data's mean). Off: the data is not "
                              "centred, so atoms cannot become 'pose A minus pose B' contrasts around the mean."),
    "resample_dead": Knob("Revive dead latents", "bool",
                          help="A latent silent for the dead window restarts on the worst-reconstructed sample's "
                               "residual."),
    "optimizer": Knob("Optimiser", "select", values=("adam", "sgd", "lbfgs"), basic=False,
                      help="Adam; plain SGD (no momentum) as Refinetti & Goldt train: with a small "
                           "initialisation the loss then falls in steps, one principal component at a time; "
                           "or full-batch L-BFGS as CS294A trains (not in a batched sweep)."),
    "init_scale": Knob("Initial weight scale", "choice", values=(1e-4, 1e-3, 1e-2, 0.1, 1.0), basic=False,
                       help="Size of the random initial weights (1 = unit-size pre-activations); small "
                            "starts near the saddle at zero, from which components escape one by one."),
    "sqrt_d_scaling": Knob("Divide by sqrt(D)", "bool", basic=False,
                           help="Refinetti & Goldt's pre-activation w.x / sqrt(D): weight entries stay O(1)."),
    "noise": Knob("Noise", "select", values=("gaussian", "salt-pepper", "masking"),
                  help="How the encoder's input is corrupted during training."),
    "noise_level": Knob("Noise level", "float", 0.0, 0.9, 0.05,
                        help="Std of the Gaussian, or fraction of entries hit."),
    "whiten": Knob("Whiten", "bool", help="Scale the codes to unit variance."),
    "solver": Knob("Solver", "select", values=("hals", "mu"),
                   help="HALS converges in tens of steps; multiplicative updates (Lee & Seung) need thousands."),
    "init": Knob("Initialisation", "select", values=("nndsvda", "nndsvd", "nndsvdar", "random"), basic=False),
    "alpha_W": Knob("Regularisation (alpha_W)", "choice", values=(0.0, 1e-4, 1e-3, 1e-2, 0.1, 1.0),
                    help="scikit-learn's regularisation weight of NMF."),
    "l1_ratio": Knob("L1 ratio", "float", 0.0, 1.0, 0.05, help="0 = L2 (ridge) regularisation, 1 = L1 (sparse)."),
    "weight_decay": Knob("Weight decay", "choice", values=(0.0, 1e-5, 1e-4, 1e-3, 3e-3, 1e-2), basic=False),
    "auxk_coef": Knob("AuxK weight", "choice", values=(0.0, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 0.25), basic=False,
                      help="Weight of the auxiliary loss that revives dead latents."),
    "warmup_steps": Knob("Warm-up steps", "int", 0, 500, 10, basic=False),
    "threshold_init": Knob("Initial threshold", "float", 0.0, 1.0, 0.01, basic=False),
    "bandwidth": Knob("Bandwidth", "float", 0.005, 0.5, 0.005, basic=False),
    "decoder_bias_init": Knob("Decoder bias init", "select", values=("mean", "median"), basic=False),
    "dead_window": Knob("Dead window (samples)", "choice", values=(256, 512, 1024, 2048, 4096, 8192), basic=False),
    "random_state": Knob("Seed", "int", 0, 100, 1, basic=False),
}

#: UI defaults that differ from the core defaults (a good picture within seconds on a laptop CPU)
UI_DEFAULTS: dict[str, Any] = {"random_state": 0, "log_every": 10}
MODEL_UI_DEFAULTS: dict[str, dict[str, Any]] = {
    "pca": {"n_components": 16},
    "nmf": {"n_components": 16, "max_steps": 200, "tol": 0.0},
    "linear-ae": {"max_steps": 1000},
    "ae": {"max_steps": 1000, "activation": "relu"},
    "denoising-ae": {"max_steps": 1000, "activation": "relu"},
}
#: parameters changed for a new run only, never shown (fixed by the app)
HIDDEN = ("device", "log_every", "auxk", "alpha_H", "tol", "epsilon")


def defaults(model_name: str) -> dict[str, Any]:
    """The parameters the Train page starts from for ``model_name``."""
    params = models.default_params(model_name)
    for name, value in UI_DEFAULTS.items():
        if name in params:
            params[name] = value
    params.update({k: v for k, v in MODEL_UI_DEFAULTS.get(model_name, {}).items() if k in params})
    return params


def sized(model_name: str, n_components: int | None = None, steps: int | None = None) -> dict[str, Any]:
    """``defaults(model_name)`` with this many atoms and steps (where the model has those parameters)."""
    params = defaults(model_name)
    for name, value in (("n_components", n_components), ("max_steps", steps)):
        if value is not None and name in params:
            params[name] = int(value)
    return params


#: the knobs that weigh a sparsity penalty: lowering one revives a collapsed run
SPARSITY_WEIGHTS = ("l1_coef", "l0_coef", "sparsity_weight", "alpha_W")


def short_label(name: str) -> str:
    """The slider's words for parameter ``name`` without their explanation: 'k', 'L1 weight', 'Atoms'."""
    knob = KNOBS.get(name)
    return knob.label.split(" (")[0] if knob is not None else name


def change_text(changes: dict[str, Any]) -> str:
    """Parameter changes in the sliders' words: 'L1 weight = 0.01, k = 3'."""
    return ", ".join(f"{short_label(name)} = {_fmt(value)}" for name, value in changes.items())


def _in_sentence(label: str) -> str:
    """'Learning rate' -> 'learning rate' (for mid-sentence use); 'L1 weight' and 'k' stay as they are."""
    return label[0].lower() + label[1:] if label[:2].istitle() and label[:2].isalpha() else label


def collapse_fix(model_name: str, params: dict[str, Any]) -> str:
    """What to change when a run of ``model_name`` (trained with ``params``) collapsed, in the sliders' words."""
    knobs = [name for name in (*SPARSITY_WEIGHTS, "learning_rate") if name in params]
    if not knobs:
        return "Train again with fewer atoms."
    lowered = " or ".join(f"a lower {_in_sentence(short_label(name))} (now {_fmt(params[name])})" for name in knobs)
    return f"Train again with {lowered}."


def live_params(model_name: str) -> tuple[str, ...]:
    return tuple(getattr(models.model_class(model_name), "_live_params", ()))


def shown(model_name: str) -> list[str]:
    """Parameters of ``model_name`` that get a widget, in the table's order."""
    params = models.default_params(model_name)
    return [name for name in KNOBS if name in params and name not in HIDDEN]


def _choice_values(knob: Knob, value) -> list:
    values = list(knob.values)
    if value is not None and value not in values:
        values = sorted(values + [value])
    return values


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def widget(name: str, key: str, value, live: bool = False, disabled: bool = False):
    """Draw the widget of parameter ``name`` (state under ``key``, seeded with ``value``); return its value.
    ``disabled``: shown but not movable (a page watching another page's run)."""
    knob = KNOBS[name]
    if key not in st.session_state:
        st.session_state[key] = coerce(name, value)
    help_text = knob.help + (" Live: applies to a running run at once." if live else "")
    if knob.kind == "bool":
        return st.toggle(knob.label, key=key, help=help_text or None, disabled=disabled)
    if knob.kind == "select":
        options = list(knob.values) if st.session_state[key] in knob.values else [st.session_state[key], *knob.values]
        return st.selectbox(knob.label, options, key=key, help=help_text or None, disabled=disabled)
    if knob.kind == "choice":
        return st.select_slider(knob.label, _choice_values(knob, st.session_state[key]), key=key,
                                format_func=_fmt, help=help_text or None, disabled=disabled)
    if knob.kind == "int":
        return st.slider(knob.label, int(knob.lo), int(knob.hi), step=int(knob.step or 1), key=key,
                         help=help_text or None, disabled=disabled)
    # a step finer than 0.01 (rho: 0.035) needs three decimals to show the value it holds
    return st.slider(knob.label, float(knob.lo), float(knob.hi), step=float(knob.step), key=key,
                     format="%.3f" if float(knob.step) < 0.01 else None, help=help_text or None, disabled=disabled)


def coerce(name: str, value):
    """Fit a value into the range of parameter ``name``'s widget, so a widget never starts invalid."""
    knob = KNOBS[name]
    if knob.kind == "int":
        value = 16 if value is None else int(value)
        return int(min(max(value, knob.lo), knob.hi))
    if knob.kind == "float":
        return float(min(max(float(value), knob.lo), knob.hi))
    if knob.kind == "bool":
        return bool(value)
    return value
