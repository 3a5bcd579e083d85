"""Lessons in the app (core.lessons): a card per lesson on Home, the one click that sets up the Train or
Compare page for it, and the box on that page that says what to look for and which paper it comes from."""

from __future__ import annotations

import streamlit as st
from PIL import Image

from core import lessons, models, render
from core.datasets import online
from core.jobs import DONE
from core.lessons import cards as lesson_cards
from ui import data_loading, knobs, lesson_results, look, session, stored_runs, train_runner

#: the pages a lesson opens on (core.lessons.Lesson.page)
PAGES = {"train": "views/train.py", "compare": "views/compare.py"}
#: samples drawn on the card of a lesson whose data set has no true atoms
CARD_SAMPLES = 12
CARD_COLUMNS = 3
CARD_PICTURE_WIDTH = 220  # pixels, so every card's picture has the same size
HEAT_MAP_ASPECT = 0.5  # height / width of a vector data set's heat map


def open_key(name: str) -> str:
    return f"lesson:open:{name}"


def _run_words(lesson: lessons.Lesson) -> str:
    labels = [run.label or run.model for run in lesson.runs]
    if lesson.page == "train":
        return f"Train · {labels[0]} on {lesson.data}"
    return f"Compare · {' vs '.join(labels)} on {lesson.data}"


def _columns(n_tiles: int) -> int:
    """Columns (4 to 8) that leave the fewest empty cells in the card's grid, the widest of equals."""
    return min(range(8, 3, -1), key=lambda columns: -n_tiles % columns)


def _download_words(lesson: lessons.Lesson) -> str:
    """An online lesson's card: whether its data set is here or needs its one download first, how to get it
    before class, and what to open without internet."""
    if online.is_cached(lesson.data):
        return f"{lesson.data} is downloaded and cached on this machine: the lesson works offline."
    words = (f"Needs internet once: {lesson.data} ({online.download_size(lesson.data)}) is downloaded when the "
             "lesson opens, then cached on this machine. Before class, open it once while online; without "
             "internet it cannot train.")
    if lesson.offline_alternative:
        words += f" Offline instead: *{lessons.get(lesson.offline_alternative).title}* (no download)."
    return words


@st.cache_resource(show_spinner=False, max_entries=16)
def card_picture(name: str):
    """The card's picture and its caption: the true atoms of the lesson's data set, else a few of its samples
    (drawn once per server; no training)."""
    lesson = lessons.get(name)
    ds = data_loading.load_choice(session.DataChoice(lesson.data, dict(lesson.data_options)))
    truth = ds.truth is not None
    rows = ds.truth if truth else ds.X[:CARD_SAMPLES]
    what = f"its {len(rows)} true atoms" if truth else f"{len(rows)} samples"
    if ds.image_shape is not None:
        picture = render.atom_grid(rows, ds.image_shape, columns=_columns(len(rows)), scale=8, background="white")
        return picture, f"{lesson.data}: {what}"
    picture = render.atom_grid(rows, None, scale=4, background="white")
    # a heat map of few long rows is a thin strip, of many a tall column: every card's is drawn in one shape
    picture = picture.resize((picture.width, round(picture.width * HEAT_MAP_ASPECT)), Image.NEAREST)
    return picture, f"{lesson.data}: {what}, one row each ({ds.n_features} numbers; red +, blue -)"


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
                if lesson.online:
                    st.caption(_download_words(lesson), help="Set SAE_EXPLORER_DATA to move the cache folder.")
                committed = lesson_cards.load(name)  # its outcome, from a real run (core.lessons.cards)
                if committed is not None:
                    st.image(committed[0], width="content", caption=committed[1])  # never wider than the card
                # no picture of an online set not yet here: Home never waits on a download
                elif not lesson.online or online.is_cached(lesson.data):
                    try:
                        picture, caption = card_picture(name)
                        st.image(picture, width=min(CARD_PICTURE_WIDTH, picture.width), caption=caption)
                    except Exception as error:  # noqa: BLE001 - e.g. a damaged cache: the card says so, Open stays
                        st.caption(f"No picture: {error}")
                if st.button("Open", key=open_key(name), icon=":material/school:", type="primary"):
                    open_lesson(name)
                    st.switch_page(PAGES[lesson.page])


def _fits_panel(lesson: lessons.Lesson) -> bool:
    """Compare's side-by-side panel trains NMF and an SAE: a lesson whose first two runs are those."""
    first, second = lesson.runs[:2]
    return models.family(first.model).factorisation and models.family(second.model).sae


def _nearest_steps(steps: int) -> int:
    return min(look.STEP_CHOICES, key=lambda choice: abs(choice - steps))


def open_lesson(name: str) -> None:
    """Set the app up for lesson ``name``: its data set, and Train's model and knobs (one run) or Compare's
    side-by-side inputs (NMF and an SAE). Every parameter of a run reaches it, also those with no knob."""
    lesson, state = lessons.get(name), session.get()
    state.data = session.DataChoice(lesson.data, dict(lesson.data_options))
    state.dataset, state.data_error, state.train_error = None, None, None
    state.lesson = name
    if lesson.page == "train":
        set_up_train(lesson.runs[0])
        return
    _forget_saved_picks(lesson)
    second = lesson.runs[1]
    if _fits_panel(lesson):
        session.set_widget("compare:n", int(second.params.get("n_components", 16)))
        session.set_widget("compare:sae", second.model)
        if "k" in second.params:
            session.set_widget("compare:k", int(second.params["k"]))
        if "max_steps" in second.params:
            session.set_widget("compare:steps", _nearest_steps(int(second.params["max_steps"])))


def _forget_saved_picks(lesson: lessons.Lesson) -> None:
    """Two saved runs then picks afresh, among the lesson data set's runs (when some are saved): a newly
    trained run of the lesson is not hidden behind an earlier pick, nor behind another data set picked
    while the lesson's had no runs yet."""
    session.set_widget("compare:data", session.DataChoice(lesson.data, dict(lesson.data_options)).key)
    for key in ("compare:left", "compare:right"):
        session.get().widgets.pop(key, None)
        st.session_state.pop(key, None)


#: the lesson run Train was last set up for (a Compare lesson's box on Train names it)
TRAIN_RUN_KEY = "_lesson_train_run"


def _train_words(lesson: lessons.Lesson) -> str:
    """A Compare lesson's box on Train: which of its runs the knobs are set for, and what comes next."""
    run = st.session_state.get(TRAIN_RUN_KEY)
    if run not in lesson.runs or session.get().model_name != run.model:
        return "Train a run here, then compare the runs on **Compare**."
    return (f"The knobs are set for the **{run.label or run.model}**: press **Train**. Then, on **Compare**, "
            "set Train up for the next run with its button, and compare the runs under **Two saved runs**.")


def set_up_train(run: lessons.Run) -> None:
    """Train's model and knobs set to ``run`` exactly as the lesson's headless run trains it (``Run.settings``:
    those with no knob too, the runner passes every parameter of AppState.params)."""
    state = session.get()
    state.model_name = run.model
    st.session_state[TRAIN_RUN_KEY] = run
    session.set_widget("train:model", run.model)
    state.params[run.model] = {**knobs.defaults(run.model), **run.settings()}
    for param in state.params[run.model]:
        st.session_state.pop(train_runner.widget_key(run.model, param), None)


def _settings(run: lessons.Run) -> str:
    shown = ", ".join(f"{knobs.short_label(k)} = {v}" for k, v in run.params.items())
    return f"**{run.label or run.model}**: `{run.model}`" + (f" ({shown})" if shown else "")


#: abbreviations in the measures' names, as the lessons' texts write them
_ACRONYMS = {"pca": "PCA", "pcs": "PCs", "mmcs": "MMCS", "fvu": "FVU", "nmf": "NMF", "sae": "SAE", "sgd": "SGD",
             "mse": "MSE", "relu": "ReLU", "adam": "Adam"}


def _measure_words(key: str) -> str:
    """'largest_angle_to_pcs_degrees' -> 'largest angle to PCs'."""
    text = " ".join(_ACRONYMS.get(word, word) for word in key.removesuffix("_degrees").split("_"))
    return text[0].upper() + text[1:]


def _measured(lesson: lessons.Lesson) -> None:
    """The lesson's own measure of the Train page's finished run, in words, and whether every number lies in
    the range the paper's result implies, then its picture: when that run is the lesson's model on its data."""
    state, job = session.get(), session.get().job
    choice = session.DataChoice(lesson.data, dict(lesson.data_options))
    if (lesson.page != "train" or job is None or job.state != DONE or state.data != choice
            or (job.model_name, job.dataset_name) != (lesson.runs[0].model, choice.label)):
        return
    ds = data_loading.current_dataset()
    if ds is None:
        return
    cache = st.session_state.setdefault("_lesson_measured", {})  # one finished run's outcome, not recomputed
    if cache.get("job") is not job:
        cache.update(job=job, outcome=lesson.measure(ds, [job.model]))
    words, ok = _outcome_words(lesson, cache["outcome"], "this run")
    (st.success if ok else st.warning)(words, icon=":material/straighten:")
    lesson_results.picture(lesson, ds, [job.model], runs_key=job)


def _outcome_words(lesson: lessons.Lesson, outcome: dict, what: str) -> tuple[str, bool]:
    inside = {key: low <= outcome[key] <= high for key, (low, high) in lesson.expected.items()}
    words = "; ".join(f"{_measure_words(key)} **{value:.4g}{'°' if key.endswith('_degrees') else ''}**" + (
        f" (expected: {lesson.expected[key][0]:g} to {lesson.expected[key][1]:g} "
        f"{'✓' if inside[key] else '✗'})" if key in lesson.expected else "") for key, value in outcome.items())
    return f"Measured on {what}: {words}.", all(inside.values())


def _fitted(loaded_runs) -> list:
    """The saved runs' models (ui.stored_runs' loaded runs) with their logged training rows: a saved model
    keeps its weights, not its history, and a lesson's measure of the loss curve (learning-in-steps) read an
    empty one (no plateaus: a false failure)."""
    run_store = stored_runs.store()
    for run in loaded_runs:
        if not getattr(run.model, "history_", None) and run_store is not None:
            try:
                run.model.history_ = run_store.load_history(run.record.id)
            except (OSError, ValueError):  # no history saved: the measure says what it lacks
                pass
    return [run.model for run in loaded_runs]


def measured_pair(left, right) -> None:
    """Under Two saved runs: the open two-run lesson's own measure of the two runs shown (ui.stored_runs'
    loaded runs), when they are its runs in its order, and its picture of them; for a lesson of more runs,
    its measure of all of them (``measured_all``)."""
    name = session.get().lesson
    lesson = lessons.get(name) if name is not None else None
    if lesson is not None and lesson.page == "compare" and len(lesson.runs) > 2:
        measured_all(lesson, left.record)
        return
    if (lesson is None or lesson.page != "compare" or len(lesson.runs) != 2
            or not all(_is_run_of(shown.record, run, lesson) for shown, run in zip((left, right), lesson.runs))):
        return
    cache = st.session_state.setdefault("_lesson_measured_pair", {})
    key = (left.record.id, left.record.updated_at, right.record.id, right.record.updated_at)
    if cache.get("key") != key:
        try:
            outcome = lesson.measure(left.dataset, _fitted([left, right]))
        except (AttributeError, ValueError):  # a saved run without what the measure reads (its history)
            outcome = None
        cache.update(key=key, outcome=outcome)
    if cache["outcome"] is not None:
        words, ok = _outcome_words(lesson, cache["outcome"], "these two runs")
        (st.success if ok else st.warning)(words, icon=":material/straighten:")
        lesson_results.picture(lesson, left.dataset, [left.model, right.model], runs_key=key)


def measured_all(lesson: lessons.Lesson, shown) -> None:
    """A lesson of more than two runs, under Two saved runs: once each of its runs is saved on the data set
    shown (``shown``, a record of it), its measure of them all and its bars; until then, which are missing."""
    run_store = stored_runs.store()
    group = [record for record in stored_runs.saved_runs(run_store)
             if stored_runs.data_key(record) == stored_runs.data_key(shown)]
    found = _newest_runs(group, lesson)
    missing = [run.label or run.model for run, record in zip(lesson.runs, found) if record is None]
    if missing:
        st.info(f"The lesson measures its {len(lesson.runs)} runs together: still to train (the buttons above): "
                f"{', '.join(missing)}.", icon=":material/straighten:")
        return
    loaded = [stored_runs.load_run(run_store, record) for record in found]
    if any(run is None for run in loaded):
        return
    key = tuple((record.id, record.updated_at) for record in found)
    cache = st.session_state.setdefault("_lesson_measured_all", {})
    if cache.get("key") != key:
        cache.update(key=key, outcome=lesson.measure(loaded[0].dataset, _fitted(loaded)))
    words, ok = _outcome_words(lesson, cache["outcome"], f"the {len(loaded)} saved runs of the lesson")
    (st.success if ok else st.warning)(words, icon=":material/straighten:")
    lesson_results.bars(lesson, cache["outcome"], key=f"lesson:bars:{lesson.name}")


def _close() -> None:
    session.get().lesson = None


def _data_missing(lesson: lessons.Lesson) -> str | None:
    """The loader's message while the open lesson's data set cannot be loaded here (an online set, offline
    and not yet cached): none of its runs can train until it is. None when it is here."""
    state = session.get()
    if state.data != session.DataChoice(lesson.data, dict(lesson.data_options)):
        return None
    return state.data_error if data_loading.current_dataset() is None else None


def _missing_words(lesson: lessons.Lesson) -> str:
    """What to do while the lesson's data set is not here, instead of a button that leads to an error."""
    if lesson.online:
        words = (f"**First its data set:** {lesson.data} ({online.download_size(lesson.data)}) is not on this "
                 "machine yet and could not be downloaded (the message below). Connect to the internet and press "
                 f"**Try the download again**: it is then cached in `{online.cache_dir()}` and the lesson works "
                 "offline.")
    else:
        words = "**Its data set cannot be loaded** (the message below), so its runs cannot train."
    if lesson.offline_alternative:
        words += (f" Without internet, **Open the offline lesson** *{lessons.get(lesson.offline_alternative).title}*: "
                  "it needs no download.")
    return words


def _missing_buttons(lesson: lessons.Lesson, buttons) -> None:
    """While the lesson's data set is not here: load it again (a rerun tries the download again), or open the
    lesson's offline stand-in."""
    buttons.button("Try the download again" if lesson.online else "Try again", key="lesson:retry",
                   icon=":material/refresh:")
    if lesson.offline_alternative and buttons.button("Open the offline lesson", key="lesson:offline",
                                                     icon=":material/school:", type="primary"):
        alternative = lessons.get(lesson.offline_alternative)
        open_lesson(alternative.name)
        st.switch_page(PAGES[alternative.page])


def lesson_box(page: str) -> None:
    """At the top of Train or Compare: the open lesson's title, what to look for, its runs and its paper,
    until the user closes it. On Compare, a button per run sets Train up for it. While the lesson's data set
    cannot be loaded, what to do about it instead of buttons that lead to the error."""
    name = session.get().lesson
    if name is None:
        return
    lesson = lessons.get(name)
    missing = _data_missing(lesson)
    runs = "  \n".join(_settings(run) for run in lesson.runs)
    how = _missing_words(lesson) if missing else _how(lesson) if page == lesson.page else _train_words(lesson)
    st.info(f"**Lesson: {lesson.title}**  \n{lesson.look_for}  \n\n{runs}  \n\n{how}  \n"
            f"*{lesson.paper}*", icon=":material/school:")
    if page == "train":
        _measured(lesson)
    elif missing:  # Train shows it on its own
        st.error(f"This lesson's data set cannot be loaded: {missing}", icon=":material/cloud_off:")
    buttons = st.container(horizontal=True)
    if missing:
        _missing_buttons(lesson, buttons)
    buttons.button("Close the lesson", key="lesson:close", on_click=_close, icon=":material/close:")
    if page != "compare" or lesson.page != "compare":
        return
    for index, run in enumerate(lesson.runs):
        if buttons.button(f"Train the {run.label or run.model}", key=f"lesson:run:{index}",
                          icon=":material/model_training:", disabled=missing is not None,
                          help="Its data set is not here yet: see above." if missing else None):
            set_up_train(run)
            _forget_saved_picks(lesson)
            st.switch_page(PAGES["train"])


#: the settings Compare's side-by-side panel has widgets for: the user's values there win over the lesson's
PANEL_SETTINGS = ("n_components", "k", "max_steps")


def panel_runs(sae_model: str) -> tuple[lessons.Lesson, lessons.Run, lessons.Run] | None:
    """The open lesson and the two runs Compare's side-by-side panel trains for it: when the lesson fits the
    panel and its SAE is the panel's chosen SAE model (another model trains with its own defaults)."""
    name = session.get().lesson
    if name is None:
        return None
    lesson = lessons.get(name)
    if lesson.page != "compare" or not _fits_panel(lesson) or lesson.runs[1].model != sae_model:
        return None
    return lesson, lesson.runs[0], lesson.runs[1]


def other_settings(run: lessons.Run) -> dict:
    """A lesson run's settings that the panel has no widget for (its non_negative, decoder_bias, ...)."""
    return {key: value for key, value in run.params.items() if key not in PANEL_SETTINGS}


def panel_aside() -> bool:
    """An open Compare lesson whose runs the side-by-side panel cannot train (the panel then stays folded
    away, its NMF and TopK SAE defaults no part of the lesson)."""
    name = session.get().lesson
    return name is not None and lessons.get(name).page == "compare" and not _fits_panel(lessons.get(name))


def _is_run_of(record, run: lessons.Run, lesson: lessons.Lesson) -> bool:
    """A saved run (core.store record) trained as lesson run ``run``: its model and the settings that tell the
    lesson's runs apart, those ``run`` leaves at its model's default too (else a second plain-SGD run passed
    for the Adam one); its size and steps may be the user's."""
    if record.model != run.model:
        return False
    expected = {**models.default_params(run.model), **run.params}
    keys = {key for other in lesson.runs for key in other_settings(other)} & set(expected)
    return all(record.params.get(key) == expected[key] for key in keys)


def saved_picks(records) -> tuple[str, str] | None:
    """The ids of the newest saved runs of the open Compare lesson's first two runs among ``records`` (newest
    first), for Two saved runs to show by default; None unless both are saved."""
    name = session.get().lesson
    lesson = lessons.get(name) if name is not None else None
    if lesson is None or lesson.page != "compare":
        return None
    found = _newest_runs(records, lesson, count=2)
    if None in found:
        return None
    return found[0].id, found[1].id


def _newest_runs(records, lesson: lessons.Lesson, count: int | None = None) -> list:
    """For each of the lesson's (first ``count``) runs, the newest saved run among ``records`` (newest first)
    trained as it, each record picked once; None where there is none."""
    picked: list = []
    for run in lesson.runs[:count]:
        picked.append(next((record for record in records
                            if _is_run_of(record, run, lesson) and record not in picked), None))
    return picked


def panel_note(sae_model: str) -> str | None:
    """The panel's line that says whose settings it trains with, when they are an open lesson's."""
    found = panel_runs(sae_model)
    if found is None:
        return None
    lesson, first, second = found
    rest = [f"{run.label or run.model}: {knobs.change_text(other_settings(run))}"
            for run in (first, second) if other_settings(run)]
    return (f"Settings from the lesson *{lesson.title}*" + (f" ({'; '.join(rest)})" if rest else "")
            + ". Atoms, k and steps are the ones set here.")


def _how(lesson: lessons.Lesson) -> str:
    if lesson.page == "train":
        return "The knobs are set: press **Train**."
    if not _fits_panel(lesson):
        return "Train each run (the buttons below set Train up for it), then pick two under **Two saved runs**."
    first, second = lesson.runs[:2]
    words = (f"**Train NMF and SAE side by side** below trains the {first.label or 'NMF'} and the "
             f"{second.label or second.model} with all of the lesson's settings.")
    if len(lesson.runs) > 2:
        words += " The buttons below set Train up for each run, the others too."
    return words
