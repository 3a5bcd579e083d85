"""The Compare page's side-by-side training: NMF and an SAE of the same size on the current data set,
two background jobs (``core.jobs``), drawn live by a fragment, each saved to the run store when it ends
(``core.jobs.saving.save_when_done``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from core import analysis, budget, models
from core.jobs import RUNNING, WAITING, get_manager, saving
from ui import caches, data_loading, knobs, lessons, look, session, stored_runs

PERIOD = 0.4  # as the Train page's live panel (ui/train_live.py)
_KEY = "_compare_page"
STATE_WORDS = {**look.STATE_WORDS, WAITING: "Waiting for a slot"}


@dataclass
class CompareState:
    """The Compare page's own state: the side-by-side jobs, their save tickets, and the runs to show."""

    jobs: dict[str, Any] = field(default_factory=dict)  # 'nmf' / 'sae' -> TrainingJob
    tickets: dict[str, saving.SaveTicket] = field(default_factory=dict)
    select: tuple[str, str] | None = None  # run ids to pick once the side-by-side runs are saved
    error: str | None = None
    shown_saved: bool = False

    @property
    def active(self) -> bool:
        return any(job.active for job in self.jobs.values())

    @property
    def saving(self) -> bool:
        return bool(self.tickets) and not all(t.done.is_set() for t in self.tickets.values())


def get() -> CompareState:
    if _KEY not in st.session_state:
        st.session_state[_KEY] = CompareState()
    return st.session_state[_KEY]


def sae_params(model_name: str, n_components: int, steps: int, k: int | None) -> dict[str, Any]:
    params = knobs.sized(model_name, n_components, steps)
    if "k" in params and k is not None:
        params["k"] = int(min(k, n_components))
    return params


def start(n_components: int, steps: int, sae_model: str, k: int | None) -> None:
    """Start NMF and the SAE on the current data set (replacing earlier side-by-side runs)."""
    page, app = get(), session.get()
    stop()
    page.error, page.jobs, page.tickets, page.select, page.shown_saved = None, {}, {}, None, False
    ds = data_loading.current_dataset()
    if ds is None:
        page.error = app.data_error or "No data set is loaded: choose one on the Data page."
        return
    try:
        models.check_sign(["nmf"], ds.non_negative, app.data.label, f"{data_loading.sign_fix(app.data)} "
                          "(or a non-negative data set such as swimmer or digits).")
    except ValueError as error:
        page.error = str(error)
        return
    specs = {"nmf": ("nmf", knobs.sized("nmf", n_components, steps)),
             "sae": (sae_model, sae_params(sae_model, n_components, steps, k))}
    names = {"nmf": "nmf", "sae": sae_model}
    lesson = lessons.panel_runs(sae_model)
    if lesson is not None:  # the open lesson's runs: all their settings, but the widgets' atoms, k and steps
        for side, run in zip(("nmf", "sae"), lesson[1:]):
            specs[side] = (run.model, {**specs[side][1], **lessons.other_settings(run)})
            names[side] = run.label or run.model
    try:
        built = {side: (name, models.create(name, **params), params) for side, (name, params) in specs.items()}
        budget.check_fits([(model, name) for name, model, _ in built.values()], ds.n_samples, ds.n_features)
    except Exception as error:  # noqa: BLE001 - core's message
        page.error = str(error)
        return
    manager = get_manager()
    for side, (name, model, params) in built.items():
        job = manager.submit(f"{app.session_id}:compare:{side}", model, ds.X, model_name=name,
                             dataset_name=app.data.label, params=params, image_shape=ds.image_shape)
        page.jobs[side] = job
        page.tickets[side] = saving.save_when_done(
            job, stored_runs.store(), dataset=app.data.label, data_options=dict(app.data.options),
            name=f"{names[side]} ({n_components}) side by side", extra={"compare": True})
    app.keep_alive(*page.jobs.values())  # on another page meanwhile, the sidebar keeps them going


def start_from_widgets() -> None:
    """The Train button's callback: runs before the script, so the same rerun draws the live runs."""
    ss = st.session_state
    sae_model = ss.get("compare:sae", session.DEFAULT_MODEL)
    k = ss.get("compare:k") if "k" in models.default_params(sae_model) else None
    start(int(ss.get("compare:n", 16)), int(ss.get("compare:steps", 500)), sae_model,
          None if k is None else int(k))


def stop() -> None:
    page, app = get(), session.get()
    for side, job in page.jobs.items():
        if job.active:
            get_manager().stop(f"{app.session_id}:compare:{side}")
            job.stop()


# The panel redraws 2.5 times a second, the atoms change a few times a second at most: pair and draw each
# pair of versions once (pairing costs 25-150 ms, the picture as much again).
_PAIRED = caches.RecentResults(kept=16)


def _paired(nmf, sae):
    """The pairing of two snapshots' atoms and its picture, cached by both atoms' versions. The titles
    name the steps at which these atoms were first drawn."""
    scale = look.tile_scale(nmf.image_shape)

    def compute():
        pairs = analysis.pair_atoms(nmf.atoms, sae.atoms)
        picture = analysis.comparison_image(nmf.atoms, sae.atoms, nmf.image_shape, pairs=pairs, scale=scale,
                                            labels=(f"NMF step {nmf.step}", f"{sae.model_name} step {sae.step}"))
        return pairs, picture

    return _PAIRED.get((nmf.job_id, nmf.atoms_version, sae.job_id, sae.atoms_version, scale), compute)


def _live_grid(snaps: dict[str, Any]) -> None:
    """Both atom grids, ordered by the current one-to-one pairing (it changes while they learn)."""
    nmf, sae = snaps.get("nmf"), snaps.get("sae")
    if nmf is None or sae is None or nmf.atoms is None or sae.atoms is None:
        st.caption("The atoms appear here, paired, as soon as both runs have some.")
        return
    pairs, picture = _paired(nmf, sae)
    st.image(picture, width=look.picture_width(picture), output_format="PNG",
             caption=f"Live: {pairs.n_pairs} pairs, mean |cos| {pairs.mean_similarity:.2f}")


def panel(polling: bool) -> None:
    page = get()
    snaps = {side: job.snapshot() for side, job in page.jobs.items()}
    cols = st.columns(2)
    for col, side in zip(cols, ("nmf", "sae")):
        snap = snaps.get(side)
        if snap is None:
            continue
        word = STATE_WORDS.get(snap.state, snap.state)
        with col:
            st.progress(snap.progress, text=f"**{word}** {snap.model_name} · step {snap.step:,} / {snap.max_steps:,}"
                                            + (f" · {look.speed(snap)}" if snap.state == RUNNING else ""))
            if snap.error:
                st.error(snap.error)
    if any(snap.active for snap in snaps.values()):
        _live_grid(snaps)
    elif page.saving:
        st.caption("Saving both runs to the run store ...")
    if page.tickets and not page.active:
        errors = [t.error for t in page.tickets.values() if t.error]
        for error in errors:
            st.error(error)
        if not page.saving and page.select is None and not page.shown_saved:
            ids = [page.tickets[side].run_id for side in ("nmf", "sae")]
            if all(ids):  # once: afterwards the user's own picks stand
                page.select, page.shown_saved = (ids[0], ids[1]), True
    if polling and not page.active and not page.saving:
        st.rerun()  # both ended and are saved: one full rerun shows them as the compared runs


def live_panel() -> None:
    page = get()
    if not page.jobs:
        return
    polling = page.active or page.saving
    st.fragment(run_every=PERIOD if polling else None)(panel)(polling)
