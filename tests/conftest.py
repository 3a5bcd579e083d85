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
def page_downloads(monkeypatch):
    """What each download button of a page would send, by file name (tests/app_support.capture_downloads)."""
    from app_support import capture_downloads

    return capture_downloads(monkeypatch)
