"""``python -m core export`` and ``python -m core import``: SAEs out to SAELens / sparsify, and in.

    python -m core export runs/my-topk --format saelens --out my-topk-saelens   # a `train --out` folder
    python -m core export 20240131-120000-0123456789ab --format sparsify --out x # or a run id in the store
    python -m core import my-topk-saelens --dataset digits                      # a folder or a .zip

Each prints one JSON line on stdout (what was written / the imported run); errors are the CLI's one line
(``core.cli``), e.g. a model the format cannot hold, a file with missing tensors or the wrong shapes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core import interop


def add_commands(commands, key_value) -> None:
    """Register ``export`` and ``import`` on the CLI's sub-command parser; ``key_value`` parses the name=value
    of ``--data-option`` as ``train`` does (given by ``core.cli``, which imports this module)."""
    export = commands.add_parser("export", help="write an SAE in SAELens' or sparsify's layout",
                                 description="Write a trained SAE as cfg.json + safetensors that SAELens "
                                             "(SAE.load_from_disk) or sparsify (Sae.load_from_disk) loads.")
    export.add_argument("source", help="a folder written by `train --out`, the Weights download (.zip) of Train or "
                                       "Inspect, or a run id in the run store")
    export.add_argument("--format", required=True, choices=interop.FORMATS, help="the layout to write")
    export.add_argument("--out", required=True, type=Path, help="the folder to write cfg.json and the weights to")
    export.add_argument("--store", type=Path, help="the run store folder, for a run id (default $SAE_EXPLORER_RUNS "
                                                   "or ./runs)")
    export.set_defaults(handler=export_command)

    imported = commands.add_parser("import", help="add an SAELens or sparsify SAE to the run store",
                                   description="Read an SAE saved by SAELens or sparsify (a folder or a .zip) and "
                                               "save it as a run, to inspect, compare and sweep against.")
    imported.add_argument("path", help="a folder holding cfg.json and its weights, or a .zip of it")
    imported.add_argument("--dataset", help="the data the SAE reads (a data set name or a file); default: the one "
                                            "the file records, else 'imported'")
    imported.add_argument("--data-option", dest="data_options", action="append", type=key_value, default=None,
                          metavar="KEY=VALUE", help="how that data is loaded, e.g. scale=minmax (repeatable)")
    imported.add_argument("--name", help="the run's name (default: the model and the file's name)")
    imported.add_argument("--store", type=Path, help="the run store folder (default $SAE_EXPLORER_RUNS or ./runs)")
    imported.set_defaults(handler=import_command)


def _store(root):
    from core.store import RunStore

    return RunStore(root) if root is not None else RunStore()


def _store_of_run(run_id: str, root: Path | None):
    """The run store that should hold ``run_id``; refused, without making a store, when there is none."""
    from core.store import RunStore, default_root
    from core.store.layout import INDEX_FILE

    root = (root if root is not None else default_root()).expanduser().resolve()
    if not (root / INDEX_FILE).is_file():
        raise interop.InteropError(f"there is no run store at {root}, so no run {run_id}: give --store DIR, the "
                                   f"folder holding the run store ({INDEX_FILE} and runs/), or "
                                   "set SAE_EXPLORER_RUNS to it.")
    return RunStore(root)


def export_command(args: argparse.Namespace) -> int:
    from core.store import RunNotFoundError
    from core.store.layout import RUN_ID_PATTERN

    # a folder needs no store; a run id is looked up in --store (or the default store)
    is_run_id = not Path(args.source).is_dir() and RUN_ID_PATTERN.match(args.source)
    store = _store_of_run(args.source, args.store) if is_run_id else None
    try:
        model, origin = interop.load_export_source(args.source, store)
    except RunNotFoundError:
        raise interop.InteropError(f"no run {args.source} in the run store {store.root}; its runs are the folders "
                                   f"in {store.root / 'runs'}. Give --store DIR for another store.") from None
    files = interop.export_files(model, args.format, origin)
    # one folder, one SAE: next to another layout's weights, cfg.json would describe the wrong file for its loader
    other = [name for name in interop.WEIGHT_FILES.values() if name not in files and (args.out / name).exists()]
    if other:
        raise interop.InteropError(f"--out {args.out} already holds {other[0]}, the weights of another layout; "
                                   f"choose another folder, or remove {other[0]} first.")
    interop.write_folder(files, args.out)
    config = json.loads(files["cfg.json"])
    summary = {"format": args.format, "model": origin["model"], "architecture": config.get("architecture", "topk"),
               "d_in": config["d_in"], "d_sae": config.get("d_sae", config.get("num_latents")), "out": str(args.out),
               "files": sorted(files)}
    print(json.dumps(summary), flush=True)
    print(f"wrote {args.out}; the SAE expects {origin['inputs']}", file=sys.stderr)
    return 0


def import_command(args: argparse.Namespace) -> int:
    options = dict(args.data_options) if args.data_options is not None else None
    imported = interop.read_sae(args.path)  # a bad file is refused before any run store is opened (or made)
    record = interop.import_to_store(args.path, _store(args.store), dataset=args.dataset, data_options=options,
                                     name=args.name, imported=imported)
    print(json.dumps({"run_id": record.id, "name": record.name, "model": record.model, "dataset": record.dataset,
                      "n_features": record.n_features, "n_components": record.n_components}), flush=True)
    if not record.metrics:  # e.g. a typo in --dataset, or an upload's name: saved, but measured on nothing
        print(f"note: {record.dataset!r} is not a data set or file here, so the run has no metrics (error, L0, "
              "dead latents); to measure it, give --dataset a data set (see `python -m core datasets`) or the "
              "path of the data it reads.", file=sys.stderr)
    return 0
