"""Lessons in the app (core.lessons): a card per lesson on Home, the one click that sets up the Train or
Compare page for it, and the box on that page that says what to look for and which paper it comes from."""

from __future__ import annotations

import streamlit as st

from core import lessons, models, render
from ui import data_loading, knobs, look, session, train_runner

#: the pages a lesson opens on (core.lessons.Lesson.page)
PAGES = {"train": "views/train.py", "compare": "views/compare.py"}
#: samples drawn on the card of a lesson whose data set has no true atoms
CARD_SAMPLES = 12
CARD_COLUMNS = 3
CARD_PICTURE_WIDTH = 220  # pixels, so every card's picture has the same size


def open_key(name: str) -> str:
    return f"lesson:open:{name}"


def _run_words(lesson: lessons.Lesson) -> str:
    labels = [run.label or run.model for run in lesson.runs]
    if lesson.page == "train":
        return f"Train · {labels[0]} on {lesson.data}"
    return f"Compare · {' vs '.join(labels)} on {lesson.data}"


@st.cache_resource(show_spinner=False, max_entries=16)
def card_picture(name: str):
    """The card's picture: the true atoms of the lesson's data set, else a few of its samples (drawn once
    per server; no training)."""
    lesson = lessons.get(name)
    ds = data_loading.load_choice(session.DataChoice(lesson.data, dict(lesson.data_options)))
    rows = ds.truth if ds.truth is not None else ds.X[:CARD_SAMPLES]
    columns = 6 if ds.image_shape is not None else 1
    picture = render.atom_grid(rows, ds.image_shape, columns=columns, scale=8 if ds.image_shape else 6)
    return picture


def cards() -> None:
    """One card per lesson: title, what it trains, its paper, a picture and the Open button."""
    names = lessons.names()
    for start in range(0, len(names), CARD_COLUMNS):
        row = st.columns(CARD_COLUMNS)
        for column, name in zip(row, names[start:start + CARD_COLUMNS]):
            lesson = lessons.get(name)
            with column.container(border=True):
                st.markdown(f"**{lesson.title}**")
                st.caption(f"{_run_words(lesson)}  \n*{lesson.paper}*")
                try:
                    picture = card_picture(name)
                    st.image(picture, width=min(CARD_PICTURE_WIDTH, picture.width))
                except Exception as error:  # noqa: BLE001 - an offline data set: the card says so, Open stays
                    st.caption(f"No picture: {error}")
                if st.button("Open", key=open_key(name), icon=":material/school:", type="primary"):
                    open_lesson(name)
                    st.switch_page(PAGES[lesson.page])


def _set_widget(key: str, value) -> None:
    """Make widget ``key`` show ``value`` when its page draws it next (session.persist seeds it from here)."""
    session.get().widgets[key] = value
    st.session_state.pop(key, None)


def _fits_panel(lesson: lessons.Lesson) -> bool:
    """Compare's side-by-side panel trains NMF and an SAE: a lesson whose first two runs are those."""
    return lesson.runs[0].model == "nmf" and lesson.runs[1].model in models.sae_models()


def _nearest_steps(steps: int) -> int:
    return min(look.STEP_CHOICES, key=lambda choice: abs(choice - steps))


def open_lesson(name: str) -> None:
    """Set the app up for lesson ``name``: its data set, and Train's model and knobs (one run) or Compare's
    side-by-side inputs (NMF and an SAE). Every parameter of a run reaches it, also those with no knob."""
    lesson, state = lessons.get(name), session.get()
    state.data = session.DataChoice(lesson.data, dict(lesson.data_options))
    state.dataset, state.data_error, state.train_error = None, None, None
    state.lesson = name
    first = lesson.runs[0]
    if lesson.page == "train":
        state.model_name = first.model
        _set_widget("train:model", first.model)
        state.params[first.model] = {**knobs.defaults(first.model), **first.params}
        for param in state.params[first.model]:
            st.session_state.pop(train_runner.widget_key(first.model, param), None)
        return
    second = lesson.runs[1]
    if _fits_panel(lesson):
        size = second.params.get("n_components", first.params.get("n_components", 16))
        _set_widget("compare:n", int(size))
        _set_widget("compare:sae", second.model)
        if "k" in second.params:
            _set_widget("compare:k", int(second.params["k"]))
    steps = second.params.get("max_steps", first.params.get("max_steps"))
    if steps is not None:
        _set_widget("compare:steps", _nearest_steps(int(steps)))


def _settings(run: lessons.Run) -> str:
    shown = ", ".join(f"{knobs.short_label(k)} = {v}" for k, v in run.params.items())
    return f"**{run.label or run.model}**: `{run.model}`" + (f" ({shown})" if shown else "")


def _close() -> None:
    session.get().lesson = None


def lesson_box(page: str) -> None:
    """At the top of Train or Compare: the open lesson's title, what to look for, its runs and its paper,
    until the user closes it."""
    name = session.get().lesson
    if name is None:
        return
    lesson = lessons.get(name)
    if lesson.page != page:
        return
    runs = "  \n".join(_settings(run) for run in lesson.runs)
    st.info(f"**Lesson: {lesson.title}**  \n{lesson.look_for}  \n\n{runs}  \n\n{_how(lesson)}  \n"
            f"*{lesson.paper}*", icon=":material/school:")
    st.button("Close the lesson", key="lesson:close", on_click=_close, icon=":material/close:")


#: the settings Compare's side-by-side panel takes for its SAE
PANEL_SETTINGS = ("n_components", "k", "max_steps")


def _how(lesson: lessons.Lesson) -> str:
    if lesson.page == "train":
        return "The knobs are set: press **Train**."
    first, second = lesson.runs[:2]
    if _fits_panel(lesson):
        rest = {k: v for k, v in second.params.items() if k not in PANEL_SETTINGS}
        words = (f"Press **Train NMF and SAE side by side** below (set to {first.label or 'NMF'} and the "
                 f"{second.label or second.model}'s atoms, k and steps).")
        if rest:
            words += (f" The panel trains `{second.model}` with its default settings: for the "
                      f"{second.label or second.model} ({knobs.change_text(rest)}) train it on **Train**.")
        if len(lesson.runs) > 2:
            words += " The other runs: train them on **Train**, then pick them below."
        return words
    return "Train each run on **Train** with these settings, then pick the two below to compare them."
