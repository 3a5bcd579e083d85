import os
import tempfile

import pytest
import torch

# Two cores, several xdist workers: one thread each keeps them from fighting.
torch.set_num_threads(1)
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
