"""What ``python -m core train`` and ``sweep`` write: strict JSON lines, history.csv, and a run's ``--out`` folder
(the checkpoint, metrics.json, history.csv and atoms.png)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from core import checkpoint, render

#: the files a run's ``--out`` folder holds
OUT_FILES = (checkpoint.CONFIG_FILE, checkpoint.WEIGHTS_FILE, "metrics.json", "history.csv", "atoms.png")


def finite(values: dict[str, Any]) -> dict[str, Any]:
    """NaN and infinity become null (in nested dicts too): strict JSON for any reader."""
    return {k: finite(v) if isinstance(v, dict) else (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in values.items()}


def history_csv(history: list[dict[str, Any]]) -> str:
    """The training rows as CSV: step, loss, mse first, then the other columns; ``event`` and ``changes``
    (the knob changes, ``core.schedule``) as JSON."""
    as_json = ("event", "changes")
    columns = ["step", "loss", "mse"]
    for row in history:
        columns += [key for key in row if key not in columns and key not in as_json]
    columns += as_json
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({**row, **{key: json.dumps(row[key]) if row.get(key) is not None else "" for key in as_json}})
    return buffer.getvalue()


def write_run(out: Path, model, data, details: dict[str, Any], weights: bool = True) -> Path:
    """Write the checkpoint, metrics.json, history.csv and atoms.png into ``out`` (without ``weights``:
    only metrics.json and history.csv, for a run that diverged before it had any finite weights). Data read
    from a file is recorded in config.json by its name (``data``) and its absolute path (``data_path``)."""
    out.mkdir(parents=True, exist_ok=True)
    if weights:
        extra = {"data": data.name, "data_options": details.get("data_options") or {},
                 "image_shape": list(data.image_shape) if data.image_shape else None, "steps": details.get("steps")}
        if data.options.get("path"):  # a file's name alone does not find it: `train --config` replays from anywhere
            extra["data_path"] = str(Path(data.options["path"]).resolve())
        checkpoint.save(model, out, extra_config=extra)
    checkpoint.write_atomic(out / "metrics.json", (json.dumps(finite(details), indent=2) + "\n").encode())
    checkpoint.write_atomic(out / "history.csv", history_csv(getattr(model, "history_", [])).encode())
    if weights:
        atoms = render.atom_grid(model.components_, image_shape=data.image_shape)
        checkpoint.write_atomic(out / "atoms.png", render.png_bytes(atoms))
    return out
