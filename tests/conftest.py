import os
import tempfile

import pytest
import torch

# Two cores, several xdist workers: one thread each keeps them from fighting.
torch.set_num_threads(1)
# Training workers normally step back for the pages (niceness 5, core/jobs/worker.py); here the suite's
# own processes are that "other work", and a niced run under them slowed a browser test's sweep past its
# wait (CI, 2 cores). The tests that measure the default priority unset this (test_job_workers,
# test_soak_short).
os.environ["SAE_EXPLORER_WORKER_NICENESS"] = "0"
# Runs saved by tests (pages, jobs) go to a throw-away folder, never into the checkout's ./runs.
os.environ["SAE_EXPLORER_RUNS"] = tempfile.mkdtemp(prefix="sae-explorer-test-runs-")


def pytest_collection_modifyitems(config, items):
    # Tests that need a CUDA GPU are skipped here and run on a lent GPU machine (see README).
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "cuda" in item.keywords:
                item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU")
    config.addinivalue_line("markers", "browser: drives a real Chromium against streamlit run")


@pytest.fixture
def deferred_downloads(monkeypatch):
    """What each deferred download button would send when clicked, by file name (AppTest cannot click one)."""
    made: dict = {}
    from streamlit.runtime.media_file_manager import MediaFileManager

    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return made
