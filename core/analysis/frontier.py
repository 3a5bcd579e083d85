"""A sweep's trials as a researcher reads them: one row per trial (its settings, seed, metrics and run id), the
settings that were swept, the mean and spread of each metric over seeds per setting, and the Pareto front of
two metrics. Pure functions of rows (dicts) and run records: the Sweep page draws what they return."""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

from core import metrics
from core.analysis.tables import analysis_rows
from core.states import DONE, FAILED, FINISHED

#: the metrics a trial row carries (those a sweep's runs record)
METRICS = ("l0", "fvu", "mse", "dead_fraction", "seconds", "hoyer_atoms", "hoyer_codes")
#: metrics where more is better; every other one (error, L0, dead latents, time) is better lower
HIGHER_IS_BETTER = frozenset({"hoyer_atoms", "hoyer_codes", "mmcs"})
#: parameters that differ between trials without being a setting of the sweep
NOT_SETTINGS = frozenset({"random_state", "device", "log_every"})


def swept_params(records: Iterable[Any]) -> list[str]:
    """The parameters a set of saved sweep runs varies: those of their grids (``extra['sweep_grid']``, or
    ``extra['sweep_param']`` of an older one-setting sweep), then any other whose value differs among one
    model's runs (the seed aside), in first-seen order; then ``data`` when the runs were trained on more than
    one data set (or its options), and ``sweep`` when two sweeps hold a trial of the same setting and seed
    (a sweep run again): what keeps such trials apart (``data_of``, the sweep's id)."""
    records = list(records)
    found: list[str] = [name for r in records for name in r.extra.get("sweep_grid") or {}]
    found += [r.extra["sweep_param"] for r in records if r.extra.get("sweep_param")]
    by_model: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_model.setdefault(record.model, []).append(record.params)
    for params_list in by_model.values():
        for name in dict.fromkeys(n for params in params_list for n in params):
            if name in NOT_SETTINGS:
                continue
            if len({repr(params.get(name)) for params in params_list}) > 1:
                found.append(name)
    found = list(dict.fromkeys(found))
    if len({data_of(r) for r in records}) > 1:
        found.append("data")
    trials = [(r.model, *(repr(_setting_value(r, name)) for name in found), seed_of(r)) for r in records]
    if len(set(trials)) < len(trials) and len({getattr(r, "sweep", None) for r in records}) > 1:
        found.append("sweep")
    return found


def group_of(record: Any) -> str | None:
    """The sweep a saved trial belongs to as the user started it: every model of one Sweep-page or CLI sweep
    shares the ``extra['sweep_group']`` it was saved with; an older trial (saved without one) is grouped by
    its model's sweep id. None for a run that is no sweep's trial."""
    return record.extra.get("sweep_group") or getattr(record, "sweep", None)


def groups_of(records: Iterable[Any]) -> dict[str, list[Any]]:
    """The sweep trials among ``records`` by ``group_of``, in the order of each group's first record (the
    store lists the newest first, so the newest sweep comes first)."""
    groups: dict[str, list[Any]] = {}
    for record in records:
        group = group_of(record)
        if group:
            groups.setdefault(group, []).append(record)
    return groups


def data_of(record: Any) -> str:
    """The data set a run trained on, with its options: ``digits``, ``digits (scale=minmax)``."""
    options = getattr(record, "data_options", None) or {}
    options = ", ".join(f"{key}={value}" for key, value in sorted(options.items()))
    return f"{record.dataset} ({options})" if options else record.dataset


def seed_of(record: Any) -> int:
    """A trial's seed: the one its sweep recorded, else its model's ``random_state`` (0 when it had none)."""
    seed = record.extra.get("seed", record.params.get("random_state"))
    return int(seed) if seed is not None else 0


def trial_rows(records: Iterable[Any], settings: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One flat row per saved trial: model, its value of each swept setting, seed, status, metrics, device,
    seconds and run id (what the CSV export holds; ``trial_record`` adds the full parameters for JSON)."""
    records = list(records)
    settings = list(settings) if settings is not None else swept_params(records)
    rows = []
    for record in records:
        values = {name: _setting_value(record, name) for name in settings}
        rows.append({"model": record.model, **values, "seed": seed_of(record),
                     "status": record.extra.get("sweep_status", record.status),
                     **{name: record.metrics.get(name) for name in METRICS},
                     "n_components": record.n_components,  # the device a trial ran on, where it was recorded
                     "device": record.metrics.get("device") or record.extra.get("device"),
                     "sweep": record.sweep, "run_id": record.id})
    return rows


def trial_record(record: Any, settings: Sequence[str]) -> dict[str, Any]:
    """A trial as JSON exports it: the flat row plus every parameter of the run and every metric it saved."""
    (row,) = trial_rows([record], settings)
    return {**row, "params": dict(record.params), "metrics": dict(record.metrics), "dataset": record.dataset,
            "data_options": dict(record.data_options)}


def failed_rows(job_rows: Iterable[dict[str, Any]], settings: Sequence[str], dataset: str = "",
                data_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The failed trials among a sweep job's rows (``core.jobs.sweep.trial_row``: no weights, so in no store)
    as rows of ``trial_rows``' columns, no metrics and no run id, with ``error``, why it failed, and for the
    JSON export ``params``, ``dataset`` and ``data_options``, as the CLI's line of a failed trial has."""
    data = data_of(_Data(dataset, data_options or {}))
    rows = []
    for row in job_rows:
        if row.get("status") != FAILED:
            continue
        values = {name: data if name == "data" else row.get("sweep_id") if name == "sweep"
                  else row.get(name, row.get("params", {}).get(name)) for name in settings}
        rows.append({"model": row["model"], **values, "seed": row.get("seed"), "status": FAILED,
                     **{name: None for name in METRICS}, "n_components": row.get("params", {}).get("n_components"),
                     "device": row.get("device"), "sweep": row.get("sweep_id"), "run_id": None,
                     "error": row.get("note"), "params": dict(row.get("params") or {}), "dataset": dataset,
                     "data_options": dict(data_options or {})})
    return rows


class _Data:
    """What ``data_of`` reads of a record, for a trial that has none."""

    def __init__(self, dataset: str, data_options: dict[str, Any]):
        self.dataset, self.data_options = dataset, data_options


def _setting_value(record: Any, name: str) -> Any:
    if name == "data":
        return data_of(record)
    if name == "sweep":
        return record.sweep
    grid = record.extra.get("sweep_grid") or {}
    if name in grid:
        return grid[name]
    if record.extra.get("sweep_param") == name and "sweep_value" in record.extra:
        return record.extra["sweep_value"]
    return record.params.get(name, record.extra.get(name))


def setting_key(row: dict[str, Any], settings: Sequence[str]) -> tuple:
    """What makes trials one setting: the model and its value of each swept setting (the seed aside)."""
    return (row["model"], *(repr(row.get(name)) for name in settings))


def setting_label(row: dict[str, Any], settings: Sequence[str], with_model: bool = True, sep: str = " · ") -> str:
    """'sae-topk · k=4 · n_components=32' (settings the model lacks left out)."""
    parts = [f"{name}={format_value(row[name])}" for name in settings if row.get(name) is not None]
    return sep.join(([row["model"]] if with_model else []) + parts)


def format_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def values_label(values: Iterable[Any]) -> str:
    """The distinct values, sorted, as a set: ``{2, 4}`` for trials at 2, 2, 4, 4 (two seeds each)."""
    unique = {repr(v): v for v in values if v is not None}.values()
    try:
        ordered = sorted(unique)
    except TypeError:  # mixed kinds: keep them as they came
        ordered = list(unique)
    return "{" + ", ".join(format_value(v) for v in ordered) + "}"


def aggregate(rows: Sequence[dict[str, Any]], settings: Sequence[str],
              metrics: Sequence[str] = METRICS) -> list[dict[str, Any]]:
    """One row per setting (``setting_key``) in first-seen order: its model and settings, ``seeds`` (how many
    trials), ``run_ids`` (by seed, lowest first: the run the views open and draw for a setting is its first
    seed's, whatever order ``rows`` come in; the run store lists the newest first), and per metric ``<m>``
    (the mean over seeds) and ``<m>_std`` (their sample standard deviation, 0 for a single seed). Missing or
    non-finite values are left out of a metric's mean (None when no trial has one). ``unfinished``: how many
    of its trials ended otherwise than trained to the end, by status (``unfinished``)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(setting_key(row, settings), []).append(row)
    result = []
    for members in groups.values():
        members = sorted(members, key=lambda m: _order(m.get("seed")))
        first = members[0]
        entry: dict[str, Any] = {"model": first["model"], **{name: first.get(name) for name in settings},
                                 "seeds": len(members), "run_ids": [m["run_id"] for m in members],
                                 "label": setting_label(first, settings), "unfinished": unfinished(members)}
        for metric in metrics:
            values = np.array([float(m[metric]) for m in members if _finite(m.get(metric))], dtype=np.float64)
            entry[metric] = float(values.mean()) if values.size else None
            entry[f"{metric}_std"] = float(values.std(ddof=1)) if values.size > 1 else (0.0 if values.size else None)
        result.append(entry)
    return result


def unfinished(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many of ``rows`` (trials) were not trained to their last step, by status ('stopped', 'diverged')."""
    counts: dict[str, int] = {}
    for row in rows:
        if row.get("status") not in (FINISHED, DONE, None):
            counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def pareto_front(points: Sequence[dict[str, Any]], x: str, y: str) -> list[bool]:
    """For each point, whether it is on the Pareto front of metrics ``x`` and ``y``: no other point is at least
    as good on both and better on one (better is lower, or higher for ``HIGHER_IS_BETTER``). Points without
    both values are not on it."""
    signs = [-1.0 if name in HIGHER_IS_BETTER else 1.0 for name in (x, y)]
    costs = [(signs[0] * float(p[x]), signs[1] * float(p[y])) if _finite(p.get(x)) and _finite(p.get(y)) else None
             for p in points]
    front = []
    for i, cost in enumerate(costs):
        if cost is None:
            front.append(False)
            continue
        dominated = any(other is not None and j != i and other[0] <= cost[0] and other[1] <= cost[1]
                        and other != cost for j, other in enumerate(costs))
        front.append(not dominated)
    return front


def gallery_layout(groups: Sequence[dict[str, Any]], settings: Sequence[str],
                   max_columns: int = 8) -> tuple[list[tuple[dict[str, Any], str]], int | None]:
    """The settings in the order of a gallery, each with its label, and its number of columns: one column per
    value of the first setting (at most ``max_columns``), one row per combination of the model and the other
    settings, values ascending; labels name the model only when there are several."""
    ordered = sorted(groups, key=lambda g: (g["model"], *(_order(g.get(name)) for name in settings[1:]),
                                            _order(g.get(settings[0])) if settings else ()))
    several = len({g["model"] for g in groups}) > 1
    first_values = {repr(g.get(settings[0])) for g in groups} if settings else set()
    columns = min(max_columns, len(first_values)) if len(first_values) > 1 else None
    return [(g, setting_label(g, settings, with_model=several, sep=", ") or g["model"]) for g in ordered], columns


def _order(value: Any) -> tuple:
    """A sort key that puts numbers first, ascending, then anything else by its text."""
    return (0, value, "") if _finite(value) else (1, 0, str(value))


def sorted_trials(rows: Sequence[dict[str, Any]], settings: Sequence[str]) -> list[dict[str, Any]]:
    """Trial rows by model, then each setting's value ascending, then seed: a table one reads down the grid."""
    return sorted(rows, key=lambda r: (r["model"], *(_order(r.get(name)) for name in settings), _order(r.get("seed"))))


def grid_order(rows: Sequence[dict[str, Any]], settings: Sequence[str]) -> list[dict[str, Any]]:
    """Each sweep's trials in turn (sweeps in the order they first come), each sweep's in ``sorted_trials``
    order: how the Sweep page's pickers of runs list them."""
    sweeps = dict.fromkeys(row.get("sweep") for row in rows)
    return [row for sweep in sweeps for row in sorted_trials([r for r in rows if r.get("sweep") == sweep], settings)]


def measured_beside(record: Any, model: Any, X) -> dict[str, Any]:
    """A stored run outside a sweep (an imported SAE, a single Train run) measured on the sweep's data ``X`` as
    the sweep measures its trials (``core.metrics.evaluate`` on the same rows: ``analysis_rows``), as a row
    the frontier and parallel coordinates draw beside the trials: ``model``, ``name``, ``run_id``,
    ``n_components``, its parameters and seed, the metrics, and its own training ``seconds`` where recorded.
    ValueError when ``X`` has not the run's width."""
    X = np.asarray(metrics.as_numpy(X), dtype=np.float32)
    width = getattr(model, "n_features_in_", X.shape[1])
    if X.shape[1] != width:
        raise ValueError(f"{record.name} reads {width} features but the sweep's data has {X.shape[1]}; "
                         "draw only runs trained on the same data.")
    scores = metrics.evaluate(model, X[analysis_rows(X.shape[0], 10_000)])
    return {"model": record.model, "name": record.name, "run_id": record.id, "n_components": record.n_components,
            **dict(record.params), "seed": seed_of(record), **{k: float(v) for k, v in scores.items()},
            "seconds": record.metrics.get("seconds")}
