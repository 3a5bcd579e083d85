"""A short soak (bench/soak.py): 3 browser sessions training at once for 15 s against a real server with a
job cap of 2. The long version (8 sessions, 2 minutes) is `python bench/soak.py`; figures in bench/RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from browser_support import need_chromium

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
pytestmark = pytest.mark.browser


def test_three_sessions_train_at_once_within_the_job_cap_and_leave_nothing_behind(tmp_path):
    need_chromium()
    from soak import MAX_JOBS, run_soak

    summary = run_soak(sessions=3, seconds=15, log=tmp_path / "server.log", quiet=True)
    # the cap holds and the excess session visibly waits
    assert summary["max_running"] == MAX_JOBS and summary["max_waiting"] >= 1, summary
    assert summary["sessions_seen_waiting"] >= 1 and summary["sessions_seen_running"] >= MAX_JOBS, summary
    # every session keeps getting redraws from the server: several a second, never silent for long
    assert min(summary["messages_per_session"]) >= 3 * summary["seconds"], summary
    assert summary["worst_gap_s"] < 10.0, summary  # the 1 s goal is not met on 2 busy cores (bench/soak.py)
    # memory stays bounded and the runs' threads end once the tabs are gone
    assert summary["rss_mib"]["peak"] < 1500 and summary["rss_mib"]["after_close"] < 1500, summary
    assert summary["threads"]["after_close"] < summary["threads"]["busy"], summary
    # A few threads per session outlive the tabs (5-11 seen for 3 sessions: Streamlit keeps disconnected
    # sessions for a while, torch keeps its pools); the bound catches a leak per training step or refresh.
    assert summary["threads_left_behind"] <= 4 * summary["sessions"], summary
