"""Data: pick a built-in data set with its options, or upload a file, and preview it."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import streamlit as st

from core import datasets, render
from core.datasets import option_names
from ui import data_loading, session, train_runner

UPLOAD = "Upload a file ..."
SCALES = {"none": None, "minmax": "minmax", "standard": "standard"}
state = session.get()
st.header("Data")


def _option_widget(label: str, key: str, default):
    """A widget for one data set option, chosen by the type of its default."""
    session.persist(key, default)
    if isinstance(default, bool):
        return st.toggle(label, key=key)
    if isinstance(default, int):
        return st.number_input(label, min_value=1, step=1, key=key)
    if isinstance(default, float):
        return st.number_input(label, min_value=0.0, step=0.01, format="%g", key=key)
    return st.text_input(label, key=key) or None


def _option_label(option: str) -> str:
    """A data set option's name as a label: 'n_atoms' -> 'N atoms' (the words core's messages use for it)."""
    return option_names.page_label(option)


def _no_single_sample(key: str) -> None:
    """The Samples box takes 0 (all, or the default count) or at least datasets.MIN_SAMPLES: a 1 is raised to
    that minimum at once, with a note, instead of a refusal from the loader."""
    if st.session_state.get(key) == 1:
        st.session_state[key] = datasets.MIN_SAMPLES
        st.toast(f"Samples: at least {datasets.MIN_SAMPLES} (a model needs two); 0 means all.",
                 icon=":material/info:")


def _common_options(name: str, cols) -> dict:
    """n_samples, scale, center and seed: accepted by every data set."""
    default_n = datasets.DEFAULT_N_SAMPLES.get(name) or 0  # a count for the generated sets, else all the rows
    least = f"otherwise at least {datasets.MIN_SAMPLES}"
    n_help, seed_help = (
        (f"How many samples to generate (0 = the default, {default_n:,}; {least}).", "Seeds the generator: "
         "another seed, other samples (and another ground truth where that is random too).") if default_n else
        (f"How many samples to use (0 = all; {least}).", "Which samples are drawn when fewer than all are used."))
    n_key = session.persist(f"data:{name}:n_samples", default_n)
    n = cols[0].number_input("Samples", min_value=0, step=100, key=n_key, help=n_help,
                             on_change=_no_single_sample, args=(n_key,))
    scale = cols[1].selectbox("Scale", list(SCALES), key=session.persist(f"data:{name}:scale", "none"),
                              help="minmax: to [0, 1] over the whole set; standard: per feature.")
    center = cols[2].toggle("Center", key=session.persist(f"data:{name}:center", False),
                            help="Subtract the mean of each feature.")
    seed = cols[3].number_input("Seed", min_value=0, step=1, key=session.persist(f"data:{name}:seed", 0),
                                help=seed_help)
    session.remember(*(f"data:{name}:{k}" for k in ("n_samples", "scale", "center", "seed")))
    return {"n_samples": int(n) or None, "scale": SCALES[scale], "center": bool(center), "seed": int(seed)}


def choose() -> None:
    names = datasets.available()
    current = UPLOAD if state.data.upload else state.data.name
    choice = st.selectbox("Data set", [*names, UPLOAD], key=session.persist("data:name", current),
                          format_func=lambda n: n if n == UPLOAD else f"{n}: {datasets.describe(n)}")
    session.remember("data:name")
    if choice == UPLOAD:
        upload()
        return
    extra = datasets.DATASET_OPTIONS.get(choice, {})
    cols = st.columns(4, vertical_alignment="bottom")
    options = _common_options(choice, cols)
    if extra:
        ecols = st.columns(max(len(extra), 4))
        for col, (opt, default) in zip(ecols, extra.items()):
            with col:
                key = f"data:{choice}:{opt}"
                options[opt] = _option_widget(_option_label(opt), key, default)
                session.remember(key)
    new = session.data_choice(choice, options)
    if new.key != state.data.key:
        state.data, state.dataset = new, None
        data_loading.current_dataset()
        if state.training:
            train_runner.sync(state)


# The upload's text fields, by the option each file kind calls them (core.datasets.FILE_OPTIONS)
NAMED_PARTS = {"key": ("key", "tensor"), "texts": ("texts",), "labels": ("labels",)}


def upload() -> None:
    st.caption("Activations or embeddings: a .npy, .safetensors or .csv matrix (one sample per row), or a .npz; "
               "with per-sample texts or labels (a string array of the .npz, a column of the .csv). "
               "Or a .zip of images.")
    file = st.file_uploader("Upload a file", type=["npy", "npz", "safetensors", "csv", "zip"], key="data:upload")
    cols = st.columns(4, vertical_alignment="bottom")
    options = _common_options("upload", cols)
    shape_cols = st.columns([2, 1, 1], vertical_alignment="top")
    accepted = _file_options(file.name) if file is not None else {}
    as_vectors = file is not None and data_loading.samples_are_vectors(file.file_id)
    size_help = ("In pixels. 0: a numeric file's pictures are guessed square (64 numbers: 8 x 8); a .zip's images "
                 "keep their own size.")
    height = shape_cols[1].number_input("Picture height (0 = guess)", 0, 4096, key=session.persist("data:upload:h", 0),
                                        disabled=as_vectors, help=size_help)
    width = shape_cols[2].number_input("Picture width (0 = guess)", 0, 4096, key=session.persist("data:upload:w", 0),
                                       disabled=as_vectors, help=size_help)
    named_cols = st.columns(3)
    named = {
        "key": named_cols[0].text_input("Array / tensor", key=session.persist("data:upload:key", ""),
                                        help="The data's array in a .npz (left empty: its first numeric "
                                             "array), or its tensor in a .safetensors (needed when the file "
                                             "holds several)."),
        "texts": named_cols[1].text_input("Texts", key=session.persist("data:upload:texts", ""),
                                          help="The .npz array or .csv column of per-sample texts (found by "
                                               "itself when named 'texts' or 'text')."),
        "labels": named_cols[2].text_input("Labels", key=session.persist("data:upload:labels", ""),
                                           help="The array, tensor or .csv column of per-sample labels (numbers "
                                                "or names; found by itself when named 'labels' or 'label')."),
    }
    session.remember("data:upload:h", "data:upload:w", "data:upload:key", "data:upload:texts", "data:upload:labels")
    if height and width and not as_vectors:
        options["image_shape"] = (int(height), int(width))
    if file is None:
        if _in_use() is not None:
            st.caption(f"Until a file is read, the data set in use stays **{_in_use()}** (shown below).")
        return
    for field, value in named.items():
        option = next((name for name in NAMED_PARTS[field] if name in accepted), None)
        if value.strip() and option:
            options[option] = value.strip()
    said = data_loading.as_vectors_option(file.file_id)
    if "as_vectors" in accepted and said is not None:
        options["as_vectors"] = said  # said, not guessed: kept in the data options (runs, replays)
    new = session.DataChoice("upload", {k: v for k, v in options.items() if v is not None},
                            upload=file.name, upload_id=str(file.file_id))
    if new.key != state.data.key or state.dataset is None:
        try:
            dataset = _shared_upload(hashlib.sha256(file.getbuffer()).hexdigest(), file.name,
                                     json.dumps(new.options, sort_keys=True, default=str), file, new.options)
        except Exception as exc:  # noqa: BLE001 - core's message, the app goes on
            kept = _in_use()
            st.error(str(exc) + (f" The data set in use is still **{kept}** (shown below)." if kept else ""))
            dataset = None
        else:
            state.data, state.dataset, state.data_error = new, dataset, None
            if state.training:
                train_runner.sync(state)
            if data_loading.remember_guess(file.file_id, dataset, new.options) and not as_vectors \
                    and data_loading.samples_are_vectors(file.file_id):
                st.rerun()  # guessed vectors: the pictures' size boxes above were drawn before that was known
    if "as_vectors" in accepted:
        with shape_cols[0]:
            _samples_are(file.file_id, bool(height and width))


def _in_use() -> str | None:
    """The label of the data set the pages use while the upload form has none to give: the one shown below."""
    return state.data.label if state.dataset is not None or not state.data.upload else None


def _samples_are(file_id, shape_given: bool) -> None:
    """The choice of what a sample of a numeric file is, defaulting to the loader's guess, which it names."""
    kinds = [data_loading.PICTURES, data_loading.VECTORS]
    st.radio("Samples are", kinds, index=kinds.index(data_loading.samples_default(file_id, shape_given)),
             key=data_loading.samples_key(file_id), horizontal=True,
             format_func=lambda kind: "pictures (H x W)" if kind == data_loading.PICTURES else kind,
             help="Pictures are drawn as pictures and take the height and width beside (0 = a square guessed from "
                  "the numbers per sample); vectors (activations, embeddings) are drawn as strips, one number a "
                  "cell. A square number of columns (64 = 8 x 8) is guessed to be pictures.")
    guess = data_loading.samples_guess(file_id)
    if guess:
        _, n_features, shape = guess
        st.caption(f"Guessed from the file: {shape[0]} x {shape[1]} pictures ({n_features:,} numbers per sample)."
                   if shape else f"Guessed from the file: vectors of {n_features:,} numbers.")


def _file_options(filename: str) -> dict:
    """The options a file of this name accepts ({} for an unsupported one: core's error comes on loading)."""
    try:
        return datasets.FILE_OPTIONS[datasets.files.file_kind(filename)]
    except datasets.DatasetError:
        return {}


@st.cache_resource(max_entries=4, show_spinner="Reading the file ...")
def _shared_upload(digest: str, name: str, options_key: str, _file, _options: dict) -> datasets.Dataset:
    """The data set of an upload, one copy for every tab that uploads the same bytes with the same options
    (a large file would otherwise be held once per tab); keyed by the bytes' digest, the name and options."""
    return datasets.load_bytes(_file.getbuffer(), name, **_options)


def _cost_note(ds) -> None:
    """Before anyone presses Train: whether the chosen model, as set, can train on this data here."""
    note = train_runner.cost_note(state, ds)
    if note is None:
        return
    kind, text = note
    if kind == "refused":
        st.error(f"**Too large to train here as set.** {text}", icon=":material/block:")
    else:
        st.warning(f"**Slow to train as set.** {text} The Train page will ask before "
                   "it starts.", icon=":material/hourglass_top:")


#: pictures of strips wider than this (pixels) are shown at full page width, not in half of it
WIDE_STRIPS = 480


#: characters a cell of the preview's six shows whole at a 1280 px window ('0.000191' was cut to '0.000...')
CELL_CHARS = 7


def _short_number(value: float) -> str:
    """``value`` in at most CELL_CHARS characters where it can be: 3 significant digits, else 2, else in
    scientific notation (exponents written short: -1.9e-4)."""
    texts = [re.sub(r"e([+-])0*(\d)", lambda m: "e" + m[1].replace("+", "") + m[2], f"{value:{spec}}")
             for spec in (".3g", ".2g", ".1e")]
    return next((text for text in texts if len(text) <= CELL_CHARS), texts[-1])


def _scale_for(image_shape) -> int:
    return max(1, 40 // max(image_shape)) if image_shape else 4


def preview(ds) -> None:
    st.subheader(f"{ds.name}", anchor=False)
    if ds.description:
        st.caption(ds.description)
    lo, hi = float(ds.X.min()), float(ds.X.max())
    cells = [("Samples", f"{ds.n_samples:,}"), ("Features", f"{ds.n_features:,}"),
             ("Image shape", f"{ds.image_shape[0]} x {ds.image_shape[1]}" if ds.image_shape else "none"),
             ("Min", _short_number(lo)), ("Max", _short_number(hi)),
             ("Non-negative", "yes" if ds.non_negative else "no")]
    # as wide as their figures, wrapping onto a second row on a narrow screen rather than cutting them ('1,...')
    figures = st.container(horizontal=True, horizontal_alignment="distribute", gap="medium")
    for label, value in cells:
        figures.metric(label, value, width="content",
                       help=f"{lo:.6g}" if label == "Min" else f"{hi:.6g}" if label == "Max" else None)
    _cost_note(ds)
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(ds.n_samples, size=min(40, ds.n_samples), replace=False))
    picture = render.sample_grid(ds.X[rows], ds.image_shape, columns=10 if ds.image_shape else None,
                                 scale=_scale_for(ds.image_shape))
    # long vectors' strips (1 px a number) get the page's width, one above the other: shrunk into half of it,
    # the strips would blur into each other
    long_strips = ds.image_shape is None and picture.width > WIDE_STRIPS
    left, right = (st.container(), st.container()) if long_strips else st.columns(2, gap="large")
    with left:
        st.markdown("**Samples**")
        st.image(picture, width="stretch" if picture.width > 200 and not long_strips else "content",
                 caption=_samples_caption(ds, rows))
    with right:
        st.markdown("**Ground-truth atoms**")
        if ds.truth is None:
            st.caption("This data set has no known atoms.")
        else:
            truth = render.atom_grid(ds.truth, ds.image_shape, scale=_scale_for(ds.image_shape))
            st.image(truth, width="stretch" if truth.width > 200 and not long_strips else "content",
                     caption=f"{len(ds.truth)} atoms a good model should find")
    if ds.texts is not None:
        _texts_table(ds, rows)


def _label_text(ds, label: int) -> str:
    return ds.label_names[label] if ds.label_names is not None and 0 <= label < len(ds.label_names) else str(label)


def _samples_caption(ds, rows) -> str:
    caption = f"{len(rows)} random samples"
    if ds.image_shape is None:
        caption += f", a strip each ({ds.n_features:,} numbers from left to right; red +, blue -, white 0)"
    if ds.labels is not None:
        present = sorted(set(ds.labels[rows].tolist()))
        caption += f"; labels {', '.join(_label_text(ds, label) for label in present[:10])}"
        caption += " ..." if len(present) > 10 else ""
    return caption


def _texts_table(ds, rows) -> None:
    """The texts behind the samples drawn, in the order of the strips."""
    st.markdown("**Texts of these samples**")
    table = {"sample": rows.tolist(), "text": ds.texts[rows].tolist()}
    if ds.labels is not None:
        table["label"] = [_label_text(ds, int(label)) for label in ds.labels[rows]]
    st.dataframe(table, hide_index=True, width="stretch", height=300)


choose()
ds = data_loading.current_dataset() if not state.data.upload else state.dataset
if state.data_error and not state.data.upload:
    st.error(state.data_error)
elif ds is not None:
    preview(ds)
