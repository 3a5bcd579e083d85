"""UI latency of the Train page in a real browser (issue 5): press Train to first loss point, live refresh
rate of the loss curve and the atom grid, and training steps/s while the page is watched against headless.

Starts `streamlit run app.py` itself on a free port (as `make run` does; or `--url` for a running one)
and drives Debian's Chromium (/usr/bin/chromium) with Playwright. Each repeat, after one warm-up:

* opens the Train page in a new session (digits, sae-topk, Steps = 10000), presses Train and takes the
  time from the click to the first frame whose loss curve has a point (both read in the browser's clock);
* from 1 s after that point, for ``--window`` seconds, records in the browser every change of the loss
  curve's last step and of the atom grid's image URL (refreshes/s) and the curve's last step (the
  run's steps/s as the page shows them); then presses Stop;
* "headless": the same model and parameters (the Train page's defaults, Steps = 10000) trained as the
  server trains it (a ``core.jobs.JobManager`` worker process with ``core.jobs.torch_threads()``
  threads) started from this script, with nothing reading it (no page, no snapshot polling): steps/s
  over the same window (1 s after its first logged row, ``--window`` seconds) from its own history.

Targets: first point within 1.5 s, at least 2 refreshes/s, watched at least 80% of headless steps/s.
Last stdout line: the JSON report of bench/common.py (speedup > 1 means the target is beaten or, for
steps/s, watched is faster than headless).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, log, median, report, resolve, row, training_workers

sys.path.insert(0, str(ROOT / "tests"))  # the browser helpers the tests use (as bench/soak.py does)
from browser_support import CHROMIUM, CHROMIUM_ARGS, streamlit_process, wait_until  # noqa: E402

TARGET_FIRST_POINT_S, TARGET_REFRESH, TARGET_WATCHED = 1.5, 2.0, 0.8
STEPS = "10000"  # the Steps slider's last value: the run outlasts the measurement

# The live loss chart says what it shows in its accessible name (ui.train_live.loss_chart), set by ECharts as it
# draws: "MSE by training step: 73 logged points, the last at step 730: 0.009387; ...".
CHART_LABEL_JS = """() => {
    const chart = document.querySelector('[data-testid="stEChartsChart"]');
    return chart ? chart.getAttribute('aria-label') || '' : '';
}"""
FIRST_POINT_JS = """() => {
    const label = (%s)();
    return /the last at step/.test(label) ? performance.now() : null;
}""" % CHART_LABEL_JS
# Records, in the browser, every change of the curve's last step (with its count of logged points) and of the
# atom grid's image URL for `ms` milliseconds, polling every 25 ms; ends early once the run is no longer training.
WATCH_JS = """async (ms) => {
    const t0 = performance.now(), points = [], atoms = [];
    let lastStep = null, lastSrc = null;
    while (performance.now() - t0 < ms) {
        const label = (%s)();
        const count = /(\\d+) logged points/.exec(label), last = /the last at step (\\d+)/.exec(label);
        const step = last ? Number(last[1]) : 0;
        if (step !== lastStep) {
            points.push([performance.now(), count ? Number(count[1]) : 0, step]);
            lastStep = step;
        }
        const imgs = document.querySelectorAll('[data-testid="stImage"] img');
        const src = imgs.length ? imgs[imgs.length - 1].src : null;
        if (src !== lastSrc) { atoms.push(performance.now()); lastSrc = src; }
        const bar = document.querySelector('[data-testid="stProgress"]');
        if (bar && !bar.textContent.startsWith('Training')) break;
        await new Promise(r => setTimeout(r, 25));
    }
    return {points, atoms, seconds: (performance.now() - t0) / 1000};
}""" % CHART_LABEL_JS


@contextlib.contextmanager
def server(device: str, log_path: str):
    """`streamlit run app.py` on a free port (tests/browser_support.py), a throw-away run store; CPU or GPU."""
    store = tempfile.mkdtemp(prefix="ui-latency-runs-")  # the runs the page saves go here, then away
    hide_gpu = {"CUDA_VISIBLE_DEVICES": ""} if device == "cpu" else {}  # the app trains on 'auto'
    try:
        with streamlit_process(Path(log_path), SAE_EXPLORER_RUNS=store, **hide_gpu) as (url, pid):
            yield url, pid
    finally:
        shutil.rmtree(store, ignore_errors=True)


def sched(pid: int) -> dict[str, tuple[int, int]]:
    """Per thread of ``pid``: nanoseconds on a CPU and waiting for one (runqueue), /proc/PID/task/*/schedstat."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError, ValueError):
            run, wait, _ = open(f"/proc/{pid}/task/{tid}/schedstat").read().split()
            out[tid] = (int(run), int(wait))
    return out


def browser_pids() -> list[int]:
    """Chromium's processes started by this script (/usr/lib/chromium/chromium under the launcher script;
    other jobs on the machine may run their own)."""
    parents = {}
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.isdigit():
                parents[int(entry)] = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
    ours, mine = set(), os.getpid()
    for pid in parents:
        seen, p = set(), pid
        while p in parents and p not in seen and p != mine:
            seen.add(p)
            p = parents[p]
        with contextlib.suppress(OSError):
            if p == mine and b"chromium" in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0]:
                ours.add(pid)
    return sorted(ours)


def busiest(use: dict[int, dict]) -> dict:
    """Of several processes' CPU figures, those of the one whose busiest thread ran most (the training one)."""
    return max(use.values(), key=lambda u: u["train_thread_on_cpu"]) if use else {}


def cpu_use(before: dict, after: dict, seconds: float) -> dict:
    """Over a window: the busiest thread (the training one) on a CPU / waiting for one / neither (blocked:
    the GIL, sleeping), as fractions of the window; and the whole process's CPU in cores."""
    deltas = [(run - before.get(tid, (0, 0))[0], wait - before.get(tid, (0, 0))[1])
              for tid, (run, wait) in after.items()]
    run, wait = max(deltas) if deltas else (0, 0)
    on, queued = run / 1e9 / seconds, wait / 1e9 / seconds
    return {"train_thread_on_cpu": round(on, 3), "train_thread_runqueue": round(queued, 3),
            "train_thread_blocked": round(max(0.0, 1 - on - queued), 3),
            "process_cpu_cores": round(sum(d[0] for d in deltas) / 1e9 / seconds, 3)}


def open_train(page, url: str) -> None:
    """A fresh session on the Train page: digits (the default), sae-topk, Steps = 10000, empty chart."""
    page.goto(f"{url}/train")
    page.locator(".device-badge").wait_for(timeout=120_000)
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    page.get_by_role("combobox", name="Model", exact=True).click()
    page.get_by_role("option", name="sae-topk", exact=True).click()
    thumb = page.get_by_role("slider", name="Steps")
    thumb.focus()
    thumb.press("End")
    wait_until(lambda: thumb.get_attribute("aria-valuetext") == STEPS, 15, "Steps moved to 10000")
    wait_until(lambda: page.evaluate(FIRST_POINT_JS) is None, 30, "an empty loss chart")
    time.sleep(0.5)  # let the rerun that the slider caused settle


def watched_run(page, url: str, window: float, server_pid: int | None) -> dict:
    """Press Train, time the first point, then watch the live panel for ``window`` seconds; Stop."""
    open_train(page, url)
    page.evaluate("() => { window.__clicked = null; window.addEventListener('click', "
                  "() => { window.__clicked = window.__clicked ?? performance.now(); }, {capture: true}); }")
    page.get_by_role("button", name="Train", exact=True).click()
    shown = page.wait_for_function(FIRST_POINT_JS, polling="raf", timeout=60_000).json_value()
    first = (shown - page.evaluate("() => window.__clicked")) / 1000
    page.wait_for_timeout(1000)
    pids = browser_pids()
    workers = training_workers(server_pid) if server_pid else []
    before = {pid: sched(pid) for pid in pids + workers + ([server_pid] if server_pid else [])}
    t0 = time.perf_counter()
    seen = page.evaluate(WATCH_JS, window * 1000)
    wall = time.perf_counter() - t0
    use = {pid: cpu_use(before[pid], sched(pid), wall) for pid in before if os.path.exists(f"/proc/{pid}")}
    server = use.get(server_pid, {})
    training = busiest({pid: use[pid] for pid in workers if pid in use})
    browser = round(sum(use[pid]["process_cpu_cores"] for pid in pids if pid in use), 3)
    page.get_by_role("button", name="Stop", exact=True).click()
    bar = page.locator('[data-testid="stProgress"]').first
    wait_until(lambda: bar.inner_text().startswith("Stopped"), 30, "Stop stops the run")
    points, atoms, seconds = seen["points"], seen["atoms"], seen["seconds"]
    # a change at the window's start is the state found there, not a refresh seen during the window
    loss_refresh, atom_refresh = max(0, len(points) - 1) / seconds, max(0, len(atoms) - 1) / seconds
    steps = None
    if len(points) >= 3:
        (t0, _, s0), (t1, _, s1) = points[1], points[-1]
        steps = (s1 - s0) / ((t1 - t0) / 1000) if t1 > t0 else None
    gaps = [(b[0] - a[0]) / 1000 for a, b in zip(points[1:], points[2:])]
    log(f"  watched: first point {first:.3f} s, loss {loss_refresh:.2f}/s, atoms {atom_refresh:.2f}/s, "
        f"{steps or 0:,.0f} steps/s over {seconds:.1f} s")
    if server and training:
        log(f"  server: {server['process_cpu_cores']:.2f} cores; training worker on a CPU "
            f"{training['train_thread_on_cpu']:.0%}, waiting for one {training['train_thread_runqueue']:.0%}, "
            f"blocked {training['train_thread_blocked']:.0%}; browser {browser:.2f} cores")
    return {"first": first, "loss": loss_refresh, "atoms": atom_refresh, "steps": steps,
            "max_gap": max(gaps) if gaps else None, "seconds": seconds, "server": server,
            "training": training, "browser": browser}


def headless_run(device: str, window: float) -> tuple[float, dict]:
    """The same run trained as the server trains it (a worker process) with nothing reading it: steps/s."""
    from core import datasets, models
    from core.jobs import JobManager
    from ui import knobs

    ds = datasets.load("digits")
    params = {**knobs.defaults("sae-topk"), "max_steps": int(STEPS), "device": device}
    manager = JobManager(max_running=1, idle_timeout=3600, warm=True)
    (worker,) = manager.workers()
    worker.ready.wait(120)  # as in the app, whose workers are warm before anyone presses Train
    job = manager.submit("headless", models.create("sae-topk", **params), ds.X, model_name="sae-topk",
                         dataset_name="digits", params=params, image_shape=ds.image_shape)
    time.sleep(1.0)  # nobody reads the job meanwhile (no snapshot, no heartbeat)
    before, t0 = sched(worker.pid), time.perf_counter()
    time.sleep(window)
    use = cpu_use(before, sched(worker.pid), time.perf_counter() - t0)
    time.sleep(0.5)
    job.stop()
    job.wait(30)
    manager.shutdown()
    history = job._history  # the job has ended: nothing writes it any more
    if not history:
        raise RuntimeError(f"the headless run logged nothing ({job.state}: {job._error})")
    start = history[0]["seconds"] + 1.0
    rows = [r for r in history if start <= r["seconds"] <= start + window]
    if len(rows) < 2:
        raise RuntimeError("the headless run logged too few rows in its window")
    rate = (rows[-1]["step"] - rows[0]["step"]) / (rows[-1]["seconds"] - rows[0]["seconds"])
    log(f"  headless: {rate:,.0f} steps/s; training worker on a CPU {use['train_thread_on_cpu']:.0%}, "
        f"waiting for one {use['train_thread_runqueue']:.0%}")
    return rate, use


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=int, default=5, help="measured repeats after one warm-up")
    parser.add_argument("--window", type=float, default=5.0, help="seconds of watching per repeat")
    parser.add_argument("--url", help="a running server to use (its device is its own) instead of starting one")
    args = parser.parse_args()
    device = resolve(args.device)
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium package (never `playwright install`).")
    from playwright.sync_api import sync_playwright
    from core.jobs import torch_threads

    load_before = os.getloadavg()
    runs, headless = [], []
    server_log = os.path.join(tempfile.gettempdir(), f"ui-latency-streamlit-{os.getpid()}.log")
    with contextlib.ExitStack() as stack:
        url, server_pid = ((args.url.rstrip("/"), None) if args.url
                           else stack.enter_context(server(args.device, server_log)))
        log(f"server {url}" + ("" if args.url else f" (log {server_log})"))
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        for repeat in range(args.repeats + 1):  # alternate watched and headless: load hits both alike
            log(f"repeat {repeat}" + (" (warm-up)" if repeat == 0 else ""))
            runs.append(watched_run(page, url, args.window, server_pid))
            headless.append(headless_run(args.device, args.window))
    load_after = os.getloadavg()
    cold, runs, headless, usage = runs[0]["first"], runs[1:], [h[0] for h in headless[1:]], [h[1] for h in headless[1:]]

    def medians(rows: list[dict]) -> dict:  # median of each CPU figure over the repeats
        return {k: round(median([r[k] for r in rows]), 3) for k in rows[0]} if rows and rows[0] else None
    tag = f"digits sae-topk {args.device}"
    first = median([r["first"] for r in runs])
    loss = median([r["loss"] for r in runs])
    atoms = median([r["atoms"] for r in runs])
    watched = median([r["steps"] for r in runs if r["steps"]])
    head = median(headless)
    results = [
        row(f"{tag}: press Train to first loss point on screen (target {TARGET_FIRST_POINT_S} s)", first,
            TARGET_FIRST_POINT_S, "s", False, met=first <= TARGET_FIRST_POINT_S,
            samples=[round(r["first"], 3) for r in runs], first_press_after_server_start=round(cold, 3)),
        row(f"{tag}: loss curve refreshes/s while training (target {TARGET_REFRESH}/s)", loss, TARGET_REFRESH,
            "refreshes/s", True, met=loss >= TARGET_REFRESH, samples=[round(r["loss"], 2) for r in runs],
            longest_gap_s=max(r["max_gap"] or 0 for r in runs)),
        row(f"{tag}: atom grid refreshes/s while training (target {TARGET_REFRESH}/s)", atoms, TARGET_REFRESH,
            "refreshes/s", True, met=atoms >= TARGET_REFRESH, samples=[round(r["atoms"], 2) for r in runs]),
        row(f"{tag}: training steps/s, Train page watched vs headless worker (target >= "
            f"{TARGET_WATCHED:.0%})", watched, head, "steps/s", True, met=watched >= TARGET_WATCHED * head,
            watched_samples=[round(r["steps"] or 0) for r in runs], headless_samples=[round(h) for h in headless],
            cpu_watched_server=medians([r["server"] for r in runs]),
            cpu_watched_training_worker=medians([r["training"] for r in runs]), cpu_headless_worker=medians(usage),
            browser_cpu_cores_watched=round(median([r["browser"] for r in runs]), 3)),
    ]
    report(device, results, repeats=args.repeats, window_s=args.window, job_torch_threads=torch_threads(),
           server=args.url or "started by the script", load_average_before=[round(x, 2) for x in load_before],
           load_average_after=[round(x, 2) for x in load_after], errors=[])


if __name__ == "__main__":
    main()
