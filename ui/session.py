"""The app's per-session state, in one place: the chosen data set, model and parameters, the runs.

Pages never touch ``st.session_state`` keys of their own for shared state; they call ``get()`` and
read or change the typed fields of ``AppState``. Widget values that must survive a page change are
seeded from here (``persist``), because Streamlit forgets the state of widgets a page did not draw.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from core import interop
from core.jobs import TrainingJob, get_manager

DEFAULT_DATASET = "digits"
DEFAULT_MODEL = "sae-topk"
MAX_RUNS_KEPT = 20
_KEY = "_sae_nmf_explorer_state"


@dataclass
class DataChoice:
    """What the user picked on the Data page: a built-in name with options, or an uploaded file."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    upload: str | None = None  # the file name when uploaded
    upload_id: str | None = None

    @property
    def key(self) -> str:
        """Identifies the data matrix: a new key means a new run."""
        options = ",".join(f"{k}={v!r}" for k, v in sorted(self.options.items()))
        if self.upload:
            return f"upload:{self.upload}:{self.upload_id}|{options}"
        return f"{self.name}|{options}"

    @property
    def label(self) -> str:
        return f"{interop.UPLOAD_PREFIX}{self.upload}" if self.upload else self.name  # as the CLI reads it back


def data_choice(name: str, options: dict[str, Any]) -> DataChoice:
    """A built-in set's choice as the Data page makes it: options at None or off are left to the loader (all
    but ``center``), so one setup has one key whether it came from the page or from a link."""
    return DataChoice(name, {k: v for k, v in options.items() if v is not None and v is not False or k == "center"})


@dataclass
class AppState:
    """Everything several pages need. One instance per browser session."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    data: DataChoice = field(default_factory=lambda: DataChoice(DEFAULT_DATASET))
    dataset: Any = None  # core.datasets.Dataset of ``data``, once loaded
    data_error: str | None = None
    model_name: str = DEFAULT_MODEL
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # per model name
    job: TrainingJob | None = None
    watching: bool = False  # ``job`` is another page's run, opened from its link: shown read-only (ui.run_address)
    train_error: str | None = None  # why the last press of Train started nothing
    run_config: tuple | None = None  # what defined the current run, apart from its live knobs
    runs: list[TrainingJob] = field(default_factory=list)
    save_ticket: Any = None  # core.jobs.saving.SaveTicket of the current run: did it reach the run store?
    background: list[Any] = field(default_factory=list)  # Compare's and Sweep's jobs: kept alive from any page
    widgets: dict[str, Any] = field(default_factory=dict)  # remembered widget values
    lesson: str | None = None  # the open lesson (core.lessons name): its box shows on Train or Compare

    # -- runs ------------------------------------------------------------------------------------
    def start_job(self, model, X, **job_kwargs) -> TrainingJob:
        """Submit a run for this session (replacing its previous one) and remember it."""
        job = get_manager().submit(self.session_id, model, X, **job_kwargs)
        self.job, self.watching = job, False
        self.runs.append(job)
        del self.runs[:-MAX_RUNS_KEPT]
        return job

    def stop_job(self) -> None:
        """Stop this session's run (a waiting one also leaves the queue); a watched run is not this session's."""
        if self.job is not None and not self.watching:
            get_manager().stop(self.session_id)
            self.job.stop()

    def keep_alive(self, *jobs: Any) -> None:
        """Let ``jobs`` (with ``active`` and ``touch()``) be kept alive by the sidebar while they run."""
        self.background = [job for job in self.background if job.active] + list(jobs)

    @property
    def training(self) -> bool:
        return self.job is not None and self.job.active

    @property
    def busy(self) -> bool:
        """A run of this session goes on: Train's, or one of Compare's or Sweep's."""
        return self.training or any(job.active for job in self.background)


def get() -> AppState:
    """This session's state (made on first use)."""
    if _KEY not in st.session_state:
        st.session_state[_KEY] = AppState()
    return st.session_state[_KEY]


def persist(key: str, default: Any) -> str:
    """Seed widget ``key`` with its remembered value (or ``default``); call ``remember`` after drawing."""
    state = get()
    if key not in st.session_state:
        st.session_state[key] = state.widgets.get(key, default)
    return key


def remember(*keys: str) -> None:
    """Store the current values of widgets ``keys`` so another page visit finds them again."""
    state = get()
    for key in keys:
        if key in st.session_state:
            state.widgets[key] = st.session_state[key]


def set_widget(key: str, value: Any) -> None:
    """Make widget ``key`` show ``value`` when its page draws it next (``persist`` seeds it from here)."""
    get().widgets[key] = value
    st.session_state.pop(key, None)


def persist_choice(key: str, options, default) -> str:
    """``persist`` for a widget whose options come from data (saved runs, a run's size): a remembered
    value that is no longer offered falls back to ``default`` (of a multiselect's list, only the offered
    ones are kept) instead of making Streamlit raise."""
    persist(key, default)
    value = st.session_state[key]
    if isinstance(value, list):
        offered = [item for item in value if item in options]
        if offered != value:
            st.session_state[key] = offered
    elif value not in options:
        st.session_state[key] = default
    return key
