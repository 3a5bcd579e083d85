"""The persistent run store: every finished or stopped run, with its weights, in a data folder.

    from core.store import RunStore
    store = RunStore()                      # ./runs, or $SAE_EXPLORER_RUNS, or RunStore("some/folder")
    record = store.save_run(model, dataset="digits", data_options={"n_samples": 500}, X=X)
    store.list_runs(dataset="digits", model="sae-topk")
    model = store.load_model(record.id)     # the fitted estimator, weights from safetensors

Runs that take a while can be recorded at their start (``begin_run``) and saved at their end
(``finish_run``): should the process die in between, the next store to open marks the run
``interrupted``. Writes are atomic (see ``core.store.run_store``); the index is SQLite in WAL mode.
A folder that holds runs but cannot be written (read-only, full disk) opens read-only: ``store.read_only``
and ``store.read_only_reason`` say so, reads work, writes raise ``ReadOnlyStoreError`` / ``StoreFullError``.
No Streamlit here.
"""

from core.store.errors import (ENV_VAR, InvalidRunNameError, ReadOnlyStoreError, RunNotFoundError,
                               RunWeightsMissingError, StoreError, StoreFullError, StoreWriteError)
from core.store.index import (FAILED, FINISHED, INTERRUPTED, RUNNING, STATUSES, STOPPED, RunRecord, clean_name)
from core.store.layout import default_root
from core.store.run_store import RecoveryReport, RunStore

__all__ = [
    "ENV_VAR", "FAILED", "FINISHED", "INTERRUPTED", "RUNNING", "STATUSES", "STOPPED",
    "InvalidRunNameError", "ReadOnlyStoreError", "RecoveryReport", "RunNotFoundError", "RunRecord", "RunStore",
    "RunWeightsMissingError", "StoreError", "StoreFullError", "StoreWriteError", "clean_name", "default_root",
]
