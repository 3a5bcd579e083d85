"""This project's SAEs out to SAELens and EleutherAI's sparsify, and theirs in.

    origin = interop.make_provenance(model, "digits", {})
    files = interop.export_files(model, "saelens", origin)   # {"cfg.json": ..., "sae_weights.safetensors": ...}
    interop.write_folder(files, "out/")                       # or interop.zip_bytes(files) for a download
    imported = interop.read_sae("some/sae/folder-or.zip")     # .model: this project's fitted estimator
    record = interop.import_to_store("some/sae", store, dataset="digits")

Which model goes to which format is one table (``core.interop.architectures.TABLE``); a model a format
cannot hold is refused with the reason (``InteropError``). Files are read with bounded sizes, weights only
through safetensors.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import checkpoint, models
from core.interop import saelens, sparsify
from core.interop.architectures import FORMATS, PROVENANCE_KEY, TABLE, InteropError, row
from core.interop.tensors import CONFIG_FILE as FOREIGN_CONFIG
from core.interop.tensors import read_files, read_zip, to_model

__all__ = ["FORMATS", "PROVENANCE_KEY", "TABLE", "Imported", "InteropError", "can_export", "export_files",
           "import_to_store", "load_export_source", "make_provenance", "read_sae", "read_sae_bytes", "refusals",
           "run_export_files", "write_folder", "zip_bytes"]

_MODULES = {"saelens": saelens, "sparsify": sparsify}
#: each format's weights file, by which a folder's layout is recognised
WEIGHT_FILES = {fmt: module.WEIGHTS_FILE for fmt, module in _MODULES.items()}
LABELS = {"saelens": "SAELens", "sparsify": "sparsify"}
#: how the Data page names an uploaded file as a run's data set (ui.session), e.g. 'upload: acts.npy'
UPLOAD_PREFIX = "upload: "
#: how each library loads a folder of the layout
LOADERS = {"saelens": "sae_lens.SAE.load_from_disk", "sparsify": "sparsify.Sae.load_from_disk"}


def can_export(model_name: str, fmt: str) -> str | None:
    """None when ``fmt`` can hold ``model_name``, else the reason it cannot (for a disabled button)."""
    try:
        row(model_name, fmt)
    except InteropError as error:
        return str(error)
    return None


def refusals(model_name: str) -> str | None:
    """Why the formats that cannot hold ``model_name`` cannot (None when every format can), in one text."""
    refused = [reason for fmt in FORMATS if (reason := can_export(model_name, fmt))]
    if len(refused) == len(FORMATS) and model_name in TABLE:
        return f"Neither SAELens nor sparsify can hold {model_name}: {TABLE[model_name].why_not}."
    return " ".join(refused) or None


def make_provenance(model, data: str | None, data_options: dict[str, Any] | None) -> dict[str, Any]:
    """What an export records of where it came from: the model and its parameters, the data and how it was
    prepared (the SAE expects its inputs prepared the same way)."""
    options = dict(data_options or {})
    prepared = {k: options[k] for k in ("scale", "center") if options.get(k) not in (None, False, "none")}
    how = ", ".join(f"{k}={v}" for k, v in prepared.items())
    return {"model": models.name_of(model), "params": checkpoint.make_config(model)["params"], "data": data,
            "data_options": options,
            "inputs": (f"the data prepared as in training ({how}); the SAE rescales nothing itself" if how else
                       "the data as loaded (no scale or center option); the SAE rescales nothing itself")}


def export_files(model, fmt: str, provenance: dict[str, Any] | None = None) -> dict[str, bytes]:
    """{file name: bytes} of a fitted SAE in ``fmt`` ('saelens' or 'sparsify'); InteropError when it cannot."""
    name = models.name_of(model)
    row(name, fmt)  # the format's refusal before anything else
    return _MODULES[fmt].export_files(model, name, provenance or make_provenance(model, None, None))


def write_folder(files: dict[str, bytes], out: str | Path) -> Path:
    """Write ``files`` into folder ``out`` (created; each file replaced atomically)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InteropError(f"--out {out} is a file; give a folder for {', '.join(files)}.")
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        checkpoint.write_atomic(out / name, data)
    return out


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A ZIP of ``files`` at its top level (a download; ``read_sae`` imports it back)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if name.endswith(".json")
                             else zipfile.ZIP_STORED)
    return buffer.getvalue()


@dataclass
class Imported:
    model: Any  # this project's fitted estimator
    model_name: str
    format: str
    config: dict[str, Any]  # the file's cfg.json

    @property
    def provenance(self) -> dict[str, Any]:
        found = self.config.get(PROVENANCE_KEY)
        return found if isinstance(found, dict) else {}


def read_sae(path: str | Path) -> Imported:
    """An SAE in SAELens' or sparsify's layout (a folder, or a ZIP of one) as this project's estimator."""
    weight_names = tuple(WEIGHT_FILES.values())
    return _build(read_files(path, weight_names))


def read_sae_bytes(data: bytes, source: str = "the upload") -> Imported:
    """Like ``read_sae``, from the bytes of a ZIP (an upload)."""
    return _build(read_zip(bytes(data), tuple(WEIGHT_FILES.values()), source))


def _build(files) -> Imported:
    fmt = next(f for f, name in WEIGHT_FILES.items() if name == files.weights_name)
    model_name, params, tensors, extra = _MODULES[fmt].read(files)
    return Imported(to_model(model_name, params, tensors, extra), model_name, fmt, files.config)


def import_to_store(path: str | Path, store, *, dataset: str | None = None, data_options: dict[str, Any] | None = None,
                    name: str | None = None, imported: Imported | None = None):
    """Add the SAE at ``path`` (already read: ``imported``) to the run store ``store``; returns its record.

    ``dataset`` (default: the one the file records, else 'imported') and ``data_options`` name the data the
    run belongs to; when that data loads here, its width must be the SAE's d_in and the run gets its metrics.
    A file is recorded as the Data page names it uploaded (``upload: NAME``), so Inspect opens the run with it.
    """
    from core import datasets

    imported = imported if imported is not None else read_sae(path)
    recorded = imported.provenance
    dataset = dataset or (recorded.get("data") if isinstance(recorded.get("data"), str) else None) or "imported"
    if data_options is None:
        data_options = recorded.get("data_options") if isinstance(recorded.get("data_options"), dict) else {}
    X = None
    if dataset in datasets.available() or Path(dataset).exists():
        data = datasets.load(dataset, **data_options)
        if data.n_features != imported.model.n_features_in_:
            raise InteropError(f"The SAE reads {imported.model.n_features_in_} features but {dataset} has "
                               f"{data.n_features}; give the data it was trained on (--dataset, --data-option).")
        X = data.X
        if dataset not in datasets.available():  # a file: named as the Data page names its upload, so that
            dataset = f"{UPLOAD_PREFIX}{Path(dataset).name}"  # Inspect opens the run beside that file uploaded
    label = name or f"{imported.model_name} from {LABELS[imported.format]} ({Path(str(path)).name})"
    return store.save_run(imported.model, dataset=dataset, data_options=data_options, name=label, X=X,
                          history=[], extra={"imported_from": str(path), "format": imported.format})


def load_export_source(source: str, store=None):
    """(fitted model, provenance) of what ``python -m core export`` names: a ``train --out`` folder, a
    checkpoint .zip (the app's Weights download) or a run id in the run store."""
    from core.store import RunStore
    from core.store.layout import RUN_ID_PATTERN

    path = Path(source)
    if _foreign_sae(path):
        raise InteropError(f"{path} is an SAE in SAELens' or sparsify's layout ({FOREIGN_CONFIG}), not this app's "
                           f"checkpoint: `python -m core import {path}` adds it to the run store, then `python -m "
                           "core export RUN_ID --format ...` writes that run in either layout.")
    if path.is_dir():
        if not (path / checkpoint.CONFIG_FILE).is_file():
            raise InteropError(f"{path} holds no {checkpoint.CONFIG_FILE}: give a folder written by "
                               "`python -m core train --out`, or a run id from the run store.")
        model, config = checkpoint.load(path, device="cpu", return_config=True)
        options = _train_data_options(path)
        return model, make_provenance(model, config.get("data"), options)
    if path.is_file() and path.suffix.lower() == ".zip":  # the Weights download of Train or Inspect
        model, config = checkpoint.load(path, device="cpu", return_config=True)
        options = config.get("data_options")
        return model, make_provenance(model, config.get("data"), options if isinstance(options, dict) else {})
    if RUN_ID_PATTERN.match(source):
        store = store if store is not None else RunStore()
        record = store.get(source)
        model = store.load_model(source, device="cpu")
        return model, make_provenance(model, record.dataset, record.data_options)
    raise InteropError(f"{source} is neither a folder written by `python -m core train --out`, a Weights download "
                       "(.zip) nor a run id (like 20240131-120000-0123456789ab).")


def _foreign_sae(path: Path) -> bool:
    """Whether ``path`` (a folder or a .zip) holds an SAELens / sparsify cfg.json and no checkpoint config.json."""
    if path.is_dir():
        return (path / FOREIGN_CONFIG).is_file() and not (path / checkpoint.CONFIG_FILE).is_file()
    if not (path.is_file() and path.suffix.lower() == ".zip"):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = {Path(name).name for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError):
        return False  # the checkpoint reader says what is wrong with it
    return FOREIGN_CONFIG in names and checkpoint.CONFIG_FILE not in names


def run_export_files(store, run_id: str, fmt: str) -> dict[str, bytes]:
    """A saved run's SAE in ``fmt`` (for a download), with its data set and options as provenance."""
    model, origin = load_export_source(run_id, store)
    return export_files(model, fmt, origin)


def _train_data_options(folder: Path) -> dict[str, Any]:
    import json

    try:
        options = json.loads((folder / "metrics.json").read_text("utf-8")).get("data_options")
    except (OSError, ValueError, AttributeError):
        return {}
    return options if isinstance(options, dict) else {}

