"""The Sweep page's state, its plan (models x a grid of up to three settings x seeds, read from the form),
its cost before Start, the Start/Stop callbacks and the live progress fragment."""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core import budget, models
from core.analysis import frontier
from core.jobs import FAILED, RUNNING, get_manager, ray_backend
from core.jobs.sweep import SweepJob
from ui import data_loading, knobs, look, session, stored_runs, sweep_views, typed_input

PERIOD = 0.5
_KEY = "_sweep_page"
PARAMS = {"k": "k (TopK active codes)", "n_components": "n_components (atoms; PCA and NMF rank)",
          "l1_coef": "L1 weight", "l0_coef": "L0 weight (JumpReLU)", "sparsity_target": "rho (KL sparsity target)",
          "alpha_W": "NMF regularisation (alpha_W)", "learning_rate": "learning rate"}
NONE = "none"
#: the form's parameter rows: the first is always set, the others may be "none"
PARAM_KEYS = ("sweep:param", "sweep:param2", "sweep:param3")
MAX_TRIALS = 256
BACKENDS = {"local": "This server", "ray": "A Ray cluster"}
STATE_WORDS = {**look.STATE_WORDS, RUNNING: "Sweeping"}


@dataclass
class SweepPage:
    job: SweepJob | None = None
    error: str | None = None


@dataclass(frozen=True)
class Plan:
    """What Start would train: ``models_`` x every combination of ``grid``'s values x ``seeds``."""

    models_: list[str]
    grid: dict[str, list[Any]]
    seeds: list[int]
    n_components: int
    steps: int

    @property
    def trials(self) -> int:
        return len(self.models_) * math.prod(len(v) for v in self.grid.values()) * len(self.seeds)

    def base_params(self, model_name: str) -> dict[str, Any]:
        return knobs.sized(model_name, None if "n_components" in self.grid else self.n_components, self.steps)

    def settings(self, model_name: str) -> list[dict[str, Any]]:
        """Every combination of the grid's values, as the parameters of one run of ``model_name``."""
        combos: list[dict[str, Any]] = [{}]
        for name, values in self.grid.items():
            combos = [{**combo, name: value} for combo in combos for value in values]
        return [{**self.base_params(model_name), **combo} for combo in combos]

    def describe(self) -> str:
        sizes = " × ".join([f"{len(self.models_)} model{'s' * (len(self.models_) > 1)}",
                            *(f"{len(v)} {name}" for name, v in self.grid.items()),
                            f"{len(self.seeds)} seed{'s' * (len(self.seeds) > 1)}"])
        return f"**{self.trials} trials** ({sizes})"


def get() -> SweepPage:
    if _KEY not in st.session_state:
        st.session_state[_KEY] = SweepPage()
    return st.session_state[_KEY]


def candidates(*params: str) -> list[str]:
    """Models that have every one of ``params``, batched ones first."""
    names = [m for m in models.available() if all(p in models.default_params(m) for p in params)]
    batched = models.batchable()
    return sorted(names, key=lambda m: (m not in batched, names.index(m)))


def chosen_params() -> list[str]:
    """The form's parameters, in its order, 'none' and repeats left out."""
    ss = st.session_state
    return list(dict.fromkeys(p for p in (ss.get(key, NONE if i else "k") for i, key in enumerate(PARAM_KEYS))
                              if p != NONE))


def values_key(row: int, param: str) -> str:
    """The values box of parameter row ``row`` (0, 1, 2) for ``param``: each parameter keeps its own values."""
    return f"sweep:values:{param}" if row == 0 else f"sweep:values{row + 1}:{param}"


def models_key(params: list[str]) -> str:
    return f"sweep:models:{params[0]}" if len(params) == 1 else f"sweep:models:{'+'.join(params)}"


def plan() -> Plan:
    """The sweep the form describes; ValueError naming the problem and the fix."""
    ss = st.session_state
    params = chosen_params()
    chosen = ss.get(models_key(params)) or []
    if not chosen:
        raise ValueError("Pick at least one model to sweep.")
    rows = [(i, ss.get(key, NONE if i else "k")) for i, key in enumerate(PARAM_KEYS)]
    grid = {p: typed_input.parse_values(ss.get(values_key(i, p), ""), p) for i, p in rows if p != NONE and p in params}
    seeds = int(ss.get("sweep:seeds", 1))
    result = Plan(list(chosen), grid, list(range(seeds)), int(ss.get("sweep:n", 32)), int(ss.get("sweep:steps", 500)))
    if result.trials > MAX_TRIALS:
        raise ValueError(f"{result.trials} trials is more than {MAX_TRIALS} in one sweep: use fewer values or seeds.")
    return result


def cost(sweep_plan: Plan, n_samples: int, n_features: int) -> str:
    """The trial count and core.budget's estimate of the time (one trial after another) and the largest run's
    memory; raises ValueError with the refusal when a run is over the memory limit."""
    estimates = [budget.estimate_model(models.create(name, **params), n_samples, n_features, name)
                 for name in sweep_plan.models_ for params in sweep_plan.settings(name)]
    for estimate in estimates:
        if estimate.refusal():
            raise ValueError(estimate.refusal())
    seconds = sum(e.seconds for e in estimates) * len(sweep_plan.seeds)
    memory = max(e.memory_bytes for e in estimates)
    return (f"{sweep_plan.describe()} · core.budget: about {budget.format_seconds(seconds)} trained one after "
            f"another (SAEs trained as one stack can take less), at most {budget.format_bytes(memory)} a run")


def ray_problem(backend: str) -> str | None:
    """Why the chosen backend cannot run here, or None."""
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        return ray_backend.MISSING.replace("use backend local", "run the sweep on this server")
    return None


def _job(sweep_plan: Plan, ds, references: bool, backend: str, address: str | None) -> SweepJob:
    app = session.get()
    return SweepJob(ds.X, models_=sweep_plan.models_, grid=sweep_plan.grid, seeds=sweep_plan.seeds,
                    base_params={m: sweep_plan.base_params(m) for m in sweep_plan.models_}, store=stored_runs.store(),
                    dataset=app.data.label, data_options=dict(app.data.options), image_shape=ds.image_shape,
                    baselines=references, backend=backend, ray_address=address)


def start() -> None:
    """Start button callback: read the widgets, build the sweep (errors shown in the page), start it."""
    page, app, ss = get(), session.get(), st.session_state
    if page.job is not None and page.job.snapshot(touch=False).active:
        page.job.stop()
    page.error = None
    ds = data_loading.current_dataset()
    backend = ss.get("sweep:backend", "local")
    try:
        if ds is None:
            raise ValueError(app.data_error or "No data set is loaded: choose one on the Data page.")
        sweep_plan = plan()
        models.check_sign(sweep_plan.models_, ds.non_negative, app.data.label,
                          f"{data_loading.sign_fix(app.data)}, or drop those models.")
        cost(sweep_plan, ds.n_samples, ds.n_features)  # refuses a run over the memory limit, as Train does
        problem = ray_problem(backend)
        if problem:
            raise ValueError(problem)
        address = (ss.get("sweep:ray-address") or "").strip() or None if backend == "ray" else None
        job = _job(sweep_plan, ds, bool(ss.get("sweep:refs", True)), backend, address)
    except Exception as error:  # noqa: BLE001 - core's message, shown in the page
        page.error = str(error)
        return
    page.job = get_manager().submit_job(f"{app.session_id}:sweep", job)  # a slot, the timeout, Stop
    app.keep_alive(page.job)  # on another page meanwhile, the sidebar keeps it going


def stop() -> None:
    page = get()
    if page.job is not None:
        page.job.stop()


def default_ray_address() -> str:
    return os.environ.get("RAY_ADDRESS", "")


def _progress(polling: bool) -> None:
    page = get()
    snap = page.job.snapshot()
    word = STATE_WORDS.get(snap.state, snap.state)
    said = snap.message.removeprefix(word).lstrip(".: ") if snap.message.startswith(word) else snap.message
    message = f" · {said}" if said else ""  # "Done. 1 of 4 trials failed." after **Done**: said once
    st.progress(snap.progress, text=f"**{word}**{message} · {len(snap.records)} runs saved · "
                                    f"{snap.seconds:,.1f} s")
    for note in snap.notes:
        st.caption(note)
    if snap.error:
        st.error(snap.error)
    _failed_trials(snap.rows)
    if polling and snap.records:  # the trials saved so far, on the frontier as they land
        settings = frontier.swept_params(snap.records)
        groups = frontier.aggregate(frontier.trial_rows(snap.records, settings), settings)
        st.plotly_chart(sweep_views.frontier_figure(groups, settings, "l0", "fvu", snap.references),
                        config={"displayModeBar": False}, key="sweep:live-plot")
    if polling and not snap.active:
        st.rerun()  # the sweep ended: one full rerun shows its runs in the views below


def _failed_trials(rows: list[dict[str, Any]]) -> None:
    """Each failed trial (no weights, so in no view below) by its model and setting, and why."""
    failed = [row for row in rows if row["status"] == FAILED]
    if failed:
        lines = [f"- **{row['model']} · {row['label'].replace(', ', ' · ')}**: {row['note']}" for row in failed]
        st.warning(f"{len(failed)} trial{'s' * (len(failed) > 1)} failed and {'were' if len(failed) > 1 else 'was'} "
                   "not saved; the others went on:\n" + "\n".join(lines))


def live_panel() -> None:
    page = get()
    if page.job is None:
        return
    polling = page.job.snapshot(touch=False).active
    st.fragment(run_every=PERIOD if polling else None)(_progress)(polling)
