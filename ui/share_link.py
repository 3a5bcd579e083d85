"""The setup in the address: the data set and its options, the model and its settings, presenter mode.

The address's query parameters (``st.query_params``) follow the setup as it changes, so a copied link or a
reload (a new Streamlit session) sets the pages up the same way. Keys: ``data``, ``d.<option>`` for the data
set's options, ``model``, ``p.<parameter>`` for the model's settings, ``present=1``; only values that differ
from the defaults are written, to keep links short. Other keys (``run``: a run's address) are left alone.

A link's value that cannot be used (an unknown model, a value out of range, an unknown data set) is ignored:
the default takes its place and one warning names each such parameter and what was used instead.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from core import datasets, models
from ui import knobs, presenter, session, train_runner

DATA, MODEL, PRESENT = "data", "model", "present"
DATA_PREFIX, PARAM_PREFIX = "d.", "p."
TRAIN_MODEL_KEY = "train:model"  # the Train page's model selectbox
_OPENED_KEY = "share:opened"  # set once the link of this session's first run has been read
_NOTES_KEY = "share:notes"  # (page, warnings) about the link's values that were not used
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _ours(key: str) -> bool:
    return key in (DATA, MODEL, PRESENT) or key.startswith((DATA_PREFIX, PARAM_PREFIX))


def _text(value: Any) -> str:
    """A value as the link writes it (``_parse`` reads it back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return repr(value) if isinstance(value, float) else str(value)


def _parse(text: str, like: Any) -> Any:
    """``text`` as a value of the type of ``like``; ValueError (in words) when it is not one."""
    if isinstance(like, bool):
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ValueError("is not true or false")
    if isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError("is not a whole number") from None
    if isinstance(like, float):
        try:
            value = float(text)
        except ValueError:
            raise ValueError("is not a number") from None
        if not math.isfinite(value):
            raise ValueError("is not a finite number")
        return value
    return text


# -- the data set ----------------------------------------------------------------------------------
def _data_defaults(name: str) -> dict[str, Any]:
    """Every option of built-in set ``name`` with the value the Data page starts from."""
    return {"n_samples": datasets.DEFAULT_N_SAMPLES.get(name), "scale": None, "center": False, "seed": 0,
            **datasets.DATASET_OPTIONS.get(name, {})}


def _data_option(name: str, option: str, text: str, default: Any) -> Any:
    """The value of data option ``option`` from the link's ``text``; ValueError (in words) when refused."""
    if option == "n_samples":
        if text.lower() in ("all", "none", "0"):
            return None
        value = _parse(text, 0)
        if not datasets.MIN_SAMPLES <= value <= datasets.MAX_GENERATED_SAMPLES:
            raise ValueError(f"is not between {datasets.MIN_SAMPLES} and {datasets.MAX_GENERATED_SAMPLES:,} "
                             "(or 'all')")
        return value
    if option == "scale":
        scales = [_text(s) for s in datasets.SCALE_CHOICES]
        if text.lower() not in scales:
            raise ValueError(f"is not one of {', '.join(scales)}")
        return None if text.lower() == "none" else text.lower()
    value = _parse(text, default)
    # the Data page's own limits: counts and sizes from 1, amounts from 0
    if isinstance(value, int) and not isinstance(value, bool) and value < (0 if option == "seed" else 1):
        raise ValueError(f"is below {0 if option == 'seed' else 1}")
    if isinstance(value, float) and value < 0:
        raise ValueError("is below 0")
    return value


def _data_widgets(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The Data page's widget values (its keys) that show ``values``."""
    shown = {"data:name": name, f"data:{name}:n_samples": values["n_samples"] or 0,
             f"data:{name}:scale": _text(values["scale"])}
    shown.update({f"data:{name}:{option}": value for option, value in values.items()
                  if option not in ("n_samples", "scale")})
    return shown


def _open_data(query: dict[str, str], state: session.AppState, notes: list[str]) -> None:
    name = query.get(DATA, state.data.name)
    if name not in datasets.available():
        notes.append(f"`{DATA}={name}` is not a built-in data set (one of {', '.join(datasets.available())}): "
                     f"used {session.DEFAULT_DATASET} instead.")
        name = session.DEFAULT_DATASET
    values = _data_defaults(name)
    for key, text in query.items():
        if not key.startswith(DATA_PREFIX):
            continue
        option = key[len(DATA_PREFIX):]
        if option not in values:
            notes.append(f"`{key}`: {name} has no option '{option}' (it has {', '.join(values)}): ignored.")
            continue
        try:
            values[option] = _data_option(name, option, text, values[option])
        except ValueError as why:
            used = "all the samples" if option == "n_samples" and values[option] is None else _text(values[option])
            notes.append(f"`{key}={text}` {why}: used {used} (the default) instead.")
    state.data, state.dataset, state.data_error = session.data_choice(name, values), None, None
    for key, value in _data_widgets(name, values).items():
        session.set_widget(key, value)


# -- the model and its settings --------------------------------------------------------------------
def _param_value(name: str, text: str, default: Any) -> Any:
    """The value of parameter ``name`` from the link's ``text``, within its knob's range; ValueError if not."""
    knob = knobs.KNOBS.get(name)
    if knob is None:
        if default is None:
            raise ValueError("cannot be set from a link")
        return _parse(text, default)
    if knob.kind == "bool":
        return _parse(text, False)
    if knob.kind == "select":
        if text not in knob.values:
            raise ValueError(f"is not one of {', '.join(map(str, knob.values))}")
        return text
    if knob.kind == "choice":
        whole = all(isinstance(v, int) for v in knob.values)
        value, lo, hi = _parse(text, 0 if whole else 0.0), min(knob.values), max(knob.values)
    else:
        value, lo, hi = _parse(text, 0 if knob.kind == "int" else 0.0), knob.lo, knob.hi
    if not lo <= value <= hi:
        raise ValueError(f"is out of range ({lo:g} to {hi:g})")
    return value


def _open_model(query: dict[str, str], state: session.AppState, notes: list[str]) -> None:
    name = query.get(MODEL, state.model_name)
    if name not in models.available():
        notes.append(f"`{MODEL}={name}` is not a model of this app (one of {', '.join(models.available())}): "
                     f"used {session.DEFAULT_MODEL} instead.")
        name = session.DEFAULT_MODEL
    params = knobs.defaults(name)
    for key, text in query.items():
        if not key.startswith(PARAM_PREFIX):
            continue
        param = key[len(PARAM_PREFIX):]
        if param not in params or param in knobs.HIDDEN:
            notes.append(f"`{key}`: {name} has no setting '{param}': ignored.")
            continue
        try:
            params[param] = _param_value(param, text, params[param])
        except ValueError as why:
            notes.append(f"`{key}={text}` {why}: used {_text(params[param])} (the default) instead.")
    state.model_name, state.params[name] = name, params
    session.set_widget(TRAIN_MODEL_KEY, name)
    for param in params:
        st.session_state.pop(train_runner.widget_key(name, param), None)


def open_link(page_path: str) -> None:
    """On the session's first run: set the data set, the model and its settings and presenter mode from
    the address (a shared link, or a reload). Later runs only show the warnings about its unused values."""
    if not st.session_state.get(_OPENED_KEY):
        st.session_state[_OPENED_KEY] = True
        query = {key: st.query_params[key] for key in st.query_params if _ours(key)}
        notes: list[str] = []
        state = session.get()
        if DATA in query or any(key.startswith(DATA_PREFIX) for key in query):
            _open_data(query, state, notes)
        if MODEL in query or any(key.startswith(PARAM_PREFIX) for key in query):
            _open_model(query, state, notes)
        if PRESENT in query:
            if query[PRESENT].lower() in _TRUE + _FALSE:
                presenter.set_on(query[PRESENT].lower() in _TRUE)
            else:
                notes.append(f"`{PRESENT}={query[PRESENT]}` is not 1 or 0: presenter mode stays off.")
        if notes:
            st.session_state[_NOTES_KEY] = (page_path, notes)
    page, notes = st.session_state.get(_NOTES_KEY, (None, []))
    if notes and page == page_path:  # on the page the link opened, until another page is chosen
        st.warning("**Some of this link's settings were not used.**\n\n" + "\n".join(f"- {n}" for n in notes),
                   icon=":material/link_off:")


# -- writing the address ---------------------------------------------------------------------------
def setup_query(state: session.AppState) -> dict[str, str]:
    """The query parameters of this session's setup: only what differs from the defaults."""
    query: dict[str, str] = {}
    if not state.data.upload:  # an uploaded file cannot travel in a link
        if state.data.name != session.DEFAULT_DATASET:
            query[DATA] = state.data.name
        for option, default in _data_defaults(state.data.name).items():
            value = state.data.options.get(option, default)
            if value != default:
                query[DATA_PREFIX + option] = _text(value)
    if state.model_name != session.DEFAULT_MODEL:
        query[MODEL] = state.model_name
    params, defaults = state.params.get(state.model_name, {}), knobs.defaults(state.model_name)
    for param, value in params.items():
        default = defaults.get(param)
        if param in knobs.KNOBS and param not in knobs.HIDDEN:
            default = knobs.coerce(param, default)
        if param not in knobs.HIDDEN and value != default:
            query[PARAM_PREFIX + param] = _text(value)
    if presenter.on():
        query[PRESENT] = "1"
    return query


def write(state: session.AppState) -> None:
    """Bring the address in line with the setup, only when it changed: keys back at their defaults leave it,
    then one update sets the others. Keys not of the setup (``run``, ``key``) are left as they are."""
    wanted = setup_query(state)
    current = {key: st.query_params[key] for key in st.query_params if _ours(key)}
    if current == wanted:
        return
    for key in current.keys() - wanted.keys():
        del st.query_params[key]
    st.query_params.update(wanted)


def link(state: session.AppState, page_path: str = "train") -> str:
    """The full address of this setup on page ``page_path``. The setup only: whoever opens it trains their
    own run (a run's own address, ``?run=``, is ui.run_address's link to watch it)."""
    query = urlencode(setup_query(state))
    base = (st.context.url or "").rstrip("/")
    base = base.removesuffix(f"/{page_path}")  # the address of the page the link is copied on
    return f"{base}/{page_path}" + (f"?{query}" if query else "")


def copy_link_box(state: session.AppState) -> None:
    """The Copy link popover's contents: the address with a copy icon, and what it carries."""
    st.code(link(state), language=None, wrap_lines=True)
    st.caption("Copy it with the icon at its right (shown under the pointer). Opening it sets up the same "
               "data set, model and settings, for a run of one's own"
               + (" (an uploaded file is not in the link: the default data set is used)." if state.data.upload
                  else "."))
