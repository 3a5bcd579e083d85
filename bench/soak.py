"""Soak test: N browser sessions training at once for M minutes against a `streamlit run` server it starts.

    .venv/bin/python bench/soak.py                       # 8 sessions, 2 minutes
    .venv/bin/python bench/soak.py --sessions 8 --minutes 1

Each session is its own Chromium context (its own Streamlit session) on the Train page; it presses Train
with Steps at 10,000, so the server's job cap (SAE_EXPLORER_MAX_JOBS, 2 here) queues the rest; a tab whose
run is done presses Train again, as a student would. Measured:

* refresh: every message the page receives over Streamlit's websocket is time-stamped in the page (an
  init script wraps WebSocket); the longest gap between two messages per session, during the steady
  window, says whether each session keeps refreshing at least once a second. The window starts SETTLE_S
  seconds after the last tab pressed Train (eight full reruns at once); those seconds are reported apart,
  and so are silences of a tab whose run was Done (its final state shown, until the page presses Train).
  What the page sends is stamped too: a silence is put down to the page asking late (its fragment timer
  held up in a busy browser) or to the answer coming late;
* the server's own share: bench/server_probe (a sitecustomize on the server's PYTHONPATH) logs each script
  run's wall and CPU time, Python's long collections and the run store's saves;
* the job cap: the sidebar's "Runs on this server: R of C, W waiting" and each page's "Waiting for a free
  training slot" status, sampled once a second;
* memory and threads of the server process (/proc: VmRSS, task count) and its training worker processes
  (core.jobs.worker: count, RSS, CPU) once a second, and again after every tab closed and the server's
  idle timeout (SAE_EXPLORER_JOB_TIMEOUT) stopped their runs;
* CPU (cores used over the steady window) of the server, its training workers and Chromium: on one small
  machine the browser's tabs compete with the server for the same cores, unlike a real classroom;
* GPU memory (torch.cuda in the server is not reachable from here: nvidia-smi's used memory, when present),
  after close once the workers that trained on the GPU were retired (idle for the job timeout).

The last line of stdout is a JSON summary. ``run_soak`` is the same as a function (tests call it short).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import CHROMIUM, CHROMIUM_ARGS, open_app, streamlit_process, wait_until  # noqa: E402
from common import training_workers  # noqa: E402
from soak_page import READ_PAGE, RETRAIN_WHEN_DONE, STAMP_WEBSOCKET  # noqa: E402

from core.jobs.worker import worker_niceness  # noqa: E402

JOB_TIMEOUT = 6  # seconds without a reader before the server stops a run (closed tabs)
MAX_JOBS = 2
SETTLE_S = 3.0  # seconds after the last press of Train before the steady window (reported on their own)
LOAD_RE = re.compile(r"Runs on this server: (\d+) of (\d+)(?:, (\d+) waiting)?")


def _proc(pid: int) -> tuple[float, int]:
    """(RSS in MiB, thread count) of process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    return rss, threads


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process ``pid`` has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _pids_running(name: bytes, anywhere: bool = False) -> list[int]:
    """Processes on this machine whose program (or, ``anywhere``, whose command line) names ``name``."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if name in (command if anywhere else command.split(b"\0")[0]):
            found.append(int(entry))
    return found


def _browser_pids() -> list[int]:
    """Chromium's processes (the soak's own: it is the only browser here)."""
    return _pids_running(b"chromium")


def _driver_pids() -> list[int]:
    """Playwright's driver (a Node.js process between this script and Chromium): the soak's own cost."""
    return _pids_running(b"run-driver", anywhere=True)


def _workers(pid: int) -> tuple[int, float, float]:
    """(count, RSS in MiB, CPU seconds so far) of the server's training worker processes."""
    count, rss, cpu = 0, 0.0, 0.0
    for worker in training_workers(pid):
        try:
            rss += _proc(worker)[0]
            cpu += _cpu_seconds(worker)
            count += 1
        except (OSError, ValueError, IndexError, AttributeError):
            continue
    return count, rss, cpu


def _health_seconds(url: str) -> float:
    """How long the server takes to answer /_stcore/health (its event loop's responsiveness)."""
    import urllib.request

    start = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=30) as response:
            response.read()
    except OSError:
        return 30.0
    return time.perf_counter() - start


def _gpu_after_close(start: float | None) -> float | None:
    """GPU memory once it is back to where it started, or after the time the server takes to retire its
    idle workers (a job timeout for the runs to stop, another for the workers; each a reaper tick late)."""
    deadline = time.monotonic() + 2 * JOB_TIMEOUT + 10
    used = _gpu_used_mib()
    while used is not None and start is not None and used > start + 64 and time.monotonic() < deadline:
        time.sleep(1)
        used = _gpu_used_mib()
    return used


def _gpu_used_mib() -> float | None:
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout
        return float(out.split()[0])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def _start_training(page) -> None:
    thumb = page.get_by_role("slider", name="Steps")
    thumb.focus()
    thumb.press("End")
    wait_until(lambda: thumb.get_attribute("aria-valuetext") == "10000", 15, "Steps at 10000")
    page.get_by_role("button", name="Train", exact=True).click()


def _ask_and_answer(stamps: list[float], sent: list[float], start: float, end: float) -> dict:
    """Per session, within [start, end] (ms): the intervals between the page's messages to the server (it
    asks for each refresh: the fragment's timer) and how long each message waited for the next one back.
    A gap over 1 s is put down to the page when it asked more than half of it after the gap began, else to
    the server's answer."""
    sent = [s for s in sent if start <= s <= end]
    ask = [(b - a) / 1000 for a, b in zip(sent, sent[1:])]
    answer, after = [], iter(s for s in stamps if s >= start)
    reply = next(after, None)
    for moment in sent:
        while reply is not None and reply <= moment:
            reply = next(after, None)
        if reply is not None:
            answer.append((reply - moment) / 1000)
    asked_late = answered_late = 0
    window = [s for s in stamps if start <= s <= end]
    for a, b in zip(window, window[1:]):
        if b - a > 1000:
            first = next((s for s in sent if a < s < b), b)
            asked_late += first - a > (b - a) / 2
            answered_late += first - a <= (b - a) / 2
    return {"ask": ask, "answer": answer, "asked_late": asked_late, "answered_late": answered_late}


def _spread(values: list[float]) -> dict:
    """Median, 99th percentile (both samples taken) and maximum of ``values``; {} when there are none."""
    if not values:
        return {}
    median, p99, most = np.percentile(values, [50, 99, 100], method="lower")
    return {"median": round(float(median), 3), "p99": round(float(p99), 3), "max": round(float(most), 3),
            "count": len(values)}


def run_soak(sessions: int = 8, seconds: float = 120.0, log: Path | None = None, quiet: bool = False,
             rounds: int = 1, browser_niceness: int = 0) -> dict:
    """``rounds`` times: open ``sessions`` tabs, train in all, watch for ``seconds``, close them and wait
    for the server to settle. The figures are those of the last round, plus the server's threads and
    memory after each round (a leak grows round after round; pools fill once). ``browser_niceness`` > 0
    lowers Chromium's CPU priority below the server's, as if the tabs ran on the students' machines."""
    from playwright.sync_api import sync_playwright

    def say(text: str) -> None:
        if not quiet:
            print(text, file=sys.stderr, flush=True)

    log = log or Path(tempfile.mkdtemp(prefix="soak-")) / "server.log"
    runs_dir = tempfile.mkdtemp(prefix="soak-runs-")
    events = log.with_name("server-events.log")  # bench/server_probe: the server's script runs, collections
    events.write_text("")
    probe = os.pathsep.join(filter(None, [str(ROOT / "bench" / "server_probe"), os.environ.get("PYTHONPATH")]))
    env = {"SAE_EXPLORER_MAX_JOBS": MAX_JOBS, "SAE_EXPLORER_JOB_TIMEOUT": JOB_TIMEOUT, "SAE_EXPLORER_RUNS": runs_dir,
           "PYTHONPATH": probe, "SOAK_SERVER_EVENTS": events}
    summary: dict = {"sessions": sessions, "seconds": seconds, "rounds": rounds, "max_jobs": MAX_JOBS,
                     "cpus": os.cpu_count(), "browser_niceness": browser_niceness,
                     "worker_niceness": worker_niceness()}
    with streamlit_process(log, **env) as (url, pid), sync_playwright() as playwright:
        rss0, threads0 = _proc(pid)
        gpu0 = _gpu_used_mib()
        by_round = []
        for number in range(1, rounds + 1):
            say(f"round {number}/{rounds}")
            figures = _round(playwright, url, pid, sessions, seconds, say, browser_niceness, events)
            by_round.append((figures["threads"]["after_close"], figures["rss_mib"]["after_close"]))
        figures["rss_mib"]["start"], figures["threads"]["start"] = round(rss0, 1), threads0
        summary.update(figures)
        summary.update({
            "threads_left_behind": figures["threads"]["after_close"] - threads0,
            "threads_after_close_by_round": [t for t, _ in by_round],
            "rss_mib_after_close_by_round": [r for _, r in by_round],
            "gpu_used_mib": {"start": gpu0, "after_close": _gpu_after_close(gpu0)},
        })
    shutil.rmtree(runs_dir, ignore_errors=True)
    return summary


def _server_events(path: Path, start: float, end: float) -> dict:
    """The server's own timings within [start, end] (epoch ms), from bench/server_probe's log: its script
    runs (fragment and full: wall and CPU milliseconds; wall far above CPU means it waited for the cores),
    Python's collections over 20 ms and the run store's saves."""
    rows = [line.split() for line in path.read_text().splitlines()]
    rows = [(name, float(wall), float(cpu), kind) for name, at, wall, cpu, kind in rows if start <= float(at) <= end]

    def figures(name: str, kind: str | None = None) -> dict:
        picked = [(wall, cpu) for n, wall, cpu, k in rows if n == name and kind in (None, k)]
        return {"count": len(picked), "wall_ms": _spread([wall for wall, _ in picked]),
                "cpu_ms": _spread([cpu for _, cpu in picked])}

    return {"fragment_runs": figures("run", "fragment"), "full_runs": figures("run", "full"),
            "collections_over_20ms": figures("gc"), "run_store_saves": figures("save")}


def _round(playwright, url: str, pid: int, sessions: int, seconds: float, say, browser_niceness: int = 0,
           events: Path | None = None) -> dict:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    contexts, pages = [], []
    for i in range(sessions):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(90_000)  # a loaded 2-core machine is slow to serve a fresh tab
        context.add_init_script(STAMP_WEBSOCKET)
        pages.append(open_app(context, url, "train"))
        contexts.append(context)
        say(f"session {i + 1}/{sessions} open")
    for i, page in enumerate(pages):  # all tabs first, then the load: a fresh tab is slow on a busy server
        _start_training(page)
        page.evaluate(RETRAIN_WHEN_DONE)
        say(f"session {i + 1}/{sessions} training")
    saw_waiting = [False] * sessions
    saw_running = [False] * sessions
    loads, rss, threads, health, workers = [], [], [], [], []
    browsers = _browser_pids()
    for browser_pid in browsers if browser_niceness else []:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, browser_pid, browser_niceness)
    drivers = _driver_pids()
    cpu_from = (_cpu_seconds(pid), _workers(pid)[2], sum(map(_cpu_seconds, browsers)), time.monotonic(),
                sum(map(_cpu_seconds, drivers)))
    pressed_at = time.time() * 1000
    steady_from = pressed_at + SETTLE_S * 1000  # the steady window starts once the last press has settled
    deadline = time.monotonic() + SETTLE_S + seconds
    while time.monotonic() < deadline:
        tick = time.monotonic()
        readings = [page.evaluate(READ_PAGE) for page in pages]  # (status line, the sidebar's server load)
        for i, (text, _) in enumerate(readings):
            saw_waiting[i] |= "Waiting for a free training slot" in text
            saw_running[i] |= text.startswith("Training")
        if match := LOAD_RE.search(readings[0][1]):  # the same in every tab
            loads.append((int(match.group(1)), int(match.group(3) or 0)))
        r, t = _proc(pid)
        count, worker_rss, _ = _workers(pid)
        rss.append(r + worker_rss)
        threads.append(t)
        workers.append(count)
        health.append(_health_seconds(url))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    steady_to = time.time() * 1000
    elapsed = time.monotonic() - cpu_from[3]
    cpu = {"server": (_cpu_seconds(pid) - cpu_from[0]) / elapsed,
           "training_workers": (_workers(pid)[2] - cpu_from[1]) / elapsed,
           "browser": (sum(map(_cpu_seconds, browsers)) - cpu_from[2]) / elapsed,
           "soak_driver": (sum(map(_cpu_seconds, drivers)) - cpu_from[4]) / elapsed}
    done_seen = [page.evaluate("window.__done") for page in pages]  # when each tab pressed Train again (ms)
    gaps, counts, long_gaps, settling_gaps, active_gaps, timing = [], [], [], [], [], []
    for page, done in zip(pages, done_seen):
        all_stamps = page.evaluate("window.__stamps")
        timing.append(_ask_and_answer(all_stamps, page.evaluate("window.__sent"), steady_from, steady_to))
        stamps = [s for s in all_stamps if steady_from <= s <= steady_to]
        counts.append(len(stamps))
        bounds = [steady_from, *stamps, steady_to]
        pairs = list(zip(bounds, bounds[1:]))
        gaps.append(max(b - a for a, b in pairs) / 1000)
        # a silence around a moment the tab showed Done is its finished run's final state (nothing to redraw)
        # and the full rerun of pressing Train again, not a stalled refresh
        active_gaps.append(max((b - a for a, b in pairs if not any(a <= t <= b for t in done)), default=0) / 1000)
        long_gaps.append([(round((a - steady_from) / 1000, 1), round((b - a) / 1000, 2)) for a, b in pairs
                          if b - a > 1000])
        settling = [pressed_at, *(s for s in all_stamps if pressed_at <= s < steady_from), steady_from]
        settling_gaps.append(max(b - a for a, b in zip(settling, settling[1:])) / 1000)
    _, threads_busy = _proc(pid)
    for context in contexts:
        context.close()
    browser.close()
    say("tabs closed; waiting for the server to stop their runs")
    closed = time.monotonic()
    history = []  # thread counts after the idle timeout: settled once unchanged for 4 s (at most 30 s)
    while time.monotonic() < closed + JOB_TIMEOUT + 30:
        time.sleep(1)
        if time.monotonic() > closed + JOB_TIMEOUT + 3:
            history.append(_proc(pid)[1])
            if len(history) >= 5 and len(set(history[-5:])) == 1:
                break
    rss_end, threads_end = _proc(pid)
    workers_end, workers_rss_end, cpu_before = _workers(pid)
    time.sleep(2.0)
    workers_cpu_idle = (_workers(pid)[2] - cpu_before) / 2.0  # cores the workers use once nothing trains
    return {
        "messages_per_session": counts,
        "max_gap_s": [round(g, 3) for g in gaps],
        "worst_gap_s": round(max(gaps), 3),
        "median_max_gap_s": round(statistics.median(gaps), 3),
        "every_session_refreshed_each_second": max(gaps) <= 1.0,
        "max_gap_while_a_run_was_active_s": [round(g, 3) for g in active_gaps],
        "worst_gap_while_active_s": round(max(active_gaps), 3),
        "every_active_session_refreshed_each_second": max(active_gaps) <= 1.0,
        "gaps_over_1s_at": long_gaps,  # (seconds into the steady window, gap length) per session
        # when a tab pressed Train again (seconds into the window): its run had ended and redrawn in full
        "handovers_at": sorted(round((t - steady_from) / 1000, 1) for done in done_seen for t in done),
        "window_started_at_ms": round(steady_from),  # the epoch, to line these up with a server's log
        # who was late: the page asking for its next refresh, or the server answering
        "ask_interval_s": _spread([value for t in timing for value in t["ask"]]),
        "answer_latency_s": _spread([value for t in timing for value in t["answer"]]),
        "long_gaps_asked_late": sum(t["asked_late"] for t in timing),
        "long_gaps_answered_late": sum(t["answered_late"] for t in timing),
        "server": _server_events(events, steady_from, steady_to) if events and events.exists() else {},
        # the first SETTLE_S seconds after the last tab pressed Train (eight full reruns land at once), apart
        "settle_s": SETTLE_S,
        "max_gap_while_settling_s": [round(g, 3) for g in settling_gaps],
        "health_latency_s": {"median": round(statistics.median(health), 3), "max": round(max(health), 3)},
        "max_running": max((r for r, _ in loads), default=0),
        "max_waiting": max((w for _, w in loads), default=0),
        "sessions_seen_waiting": sum(saw_waiting),
        "sessions_seen_running": sum(saw_running),
        "runs_restarted_when_done": sum(map(len, done_seen)),
        "cpu_cores_while_loaded": {k: round(v, 3) for k, v in cpu.items()},
        "rss_mib": {"peak": round(max(rss), 1), "last_loaded": round(rss[-1], 1),
                    "after_close": round(rss_end + workers_rss_end, 1)},
        "threads": {"peak": max(threads), "busy": threads_busy, "after_close": threads_end},
        "workers": {"peak": max(workers, default=0), "after_close": workers_end,
                    "cpu_cores_after_close": round(workers_cpu_idle, 3)},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=1, help="open, train, close this many times")
    parser.add_argument("--browser-niceness", type=int, default=0,
                        help="renice Chromium (e.g. 10) to model tabs that run on other machines")
    args = parser.parse_args(argv)
    summary = run_soak(args.sessions, args.minutes * 60, rounds=args.rounds, browser_niceness=args.browser_niceness)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
