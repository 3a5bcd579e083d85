"""Very large inputs (issue 16): a 4 x 1,000,000 .npy through the command line and through the server.

* cli: ``python -m core train --data big.npy --model sae-topk --max-steps 10`` under ``/usr/bin/time``:
  wall seconds, peak memory, exit status and its first line of stderr (``--with-yes`` also times the
  run the estimate calls slow, trained anyway with ``--yes``).
* server: ``streamlit run app.py`` driven by Chromium: the server process's memory when idle (the app
  opened once) and its peak (``VmHWM``) through the upload on the Data page, Train, "Train anyway", the
  run's first steps for ``--watch`` seconds and Stop; the time from the upload to the page's first
  feedback (the preview with the cost note), and from "Train anyway" to the run's first status phase.
  The workers' peak memory is given apart (they are separate processes). ``--screens DIR`` also saves
  the Data and Train pages, and a second pass under ``SAE_EXPLORER_RUN_MEMORY=2G`` shows the refusal.

Progress goes to stderr; the last line of stdout is one JSON object. CPU only (the GPU figures are
not measured here).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import commit, log, training_workers  # noqa: E402
from tests import browser_support as browser  # noqa: E402

SHAPE = (4, 1_000_000)


def _status_kib(pid: int, field: str) -> int:
    """VmRSS / VmHWM of ``pid`` in KiB (0 once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def cli_run(path: Path, *extra: str) -> dict:
    command = ["/usr/bin/time", "-f", "%M %e", sys.executable, "-m", "core", "train", "--data", str(path),
               "--model", "sae-topk", "--max-steps", "10", "--quiet", *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    *lines, timing = done.stderr.strip().splitlines()
    peak_kib, seconds = timing.split()
    return {"args": " ".join(["--max-steps 10", *extra]), "exit": done.returncode, "seconds": float(seconds),
            "peak_MiB": round(int(peak_kib) / 1024), "stderr": lines[0][:300] if lines else "",
            "traceback": "Traceback" in done.stderr, "json": done.stdout.strip().splitlines()[-1:] or None}


def upload(page, path: Path) -> float:
    """Upload ``path`` on the Data page; seconds until the page shows its preview."""
    browser.choose(page, "Data set", "Upload a file ...")
    page.locator('input[type="file"]').wait_for(state="attached", timeout=30_000)
    start = time.monotonic()
    page.locator('input[type="file"]').set_input_files(str(path))
    page.get_by_role("heading", name=path.name).wait_for(timeout=120_000)  # the preview's title
    return time.monotonic() - start


def to_train_page(page) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Train", exact=True).click()
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    time.sleep(1.0)


def server_pass(path: Path, watch: float, screens: Path | None, **env) -> dict:
    with tempfile.TemporaryDirectory() as runs:
        server_log = Path(runs) / "server.log"
        with browser.streamlit_process(server_log, SAE_EXPLORER_RUNS=runs, **env) as (url, pid), \
                browser.chromium() as chromium:
            context = chromium.new_context(viewport={"width": 1400, "height": 1000})
            page = browser.open_app(context, url, "data")
            time.sleep(2.0)
            idle = _status_kib(pid, "VmRSS")
            log(f"server idle: {idle / 1024:.0f} MiB")
            result = {"env": env, "idle_MiB": round(idle / 1024)}
            result["upload_to_preview_s"] = round(upload(page, path), 2)
            log(f"upload shown after {result['upload_to_preview_s']} s")
            alerts = page.locator('[data-testid="stAlert"]')
            result["data_page_note"] = alerts.first.inner_text()[:300] if alerts.count() else None
            if screens:
                page.screenshot(path=str(screens / f"data{'-refused' if env else ''}.png"), full_page=True)
            to_train_page(page)
            browser.choose(page, "Model", "sae-topk")
            time.sleep(1.0)
            start = time.monotonic()
            browser.press(page, "Train")
            page.locator('[data-testid="stAlert"]').first.wait_for(timeout=60_000)
            result["train_to_answer_s"] = round(time.monotonic() - start, 2)
            result["train_page_says"] = page.locator('[data-testid="stAlert"]').first.inner_text()[:400]
            if screens:
                page.screenshot(path=str(screens / f"train{'-refused' if env else '-slow'}.png"), full_page=True)
            anyway = page.get_by_role("button", name="Train anyway")
            if anyway.count():
                result.update(_train_anyway(page, anyway, pid, watch, screens))
            result["server_peak_MiB"] = round(_status_kib(pid, "VmHWM") / 1024)
            result["server_peak_above_idle_MiB"] = result["server_peak_MiB"] - result["idle_MiB"]
            text = server_log.read_text()
            result["server_log_errors"] = sorted(set(re.findall(r"\w+(?:Error|Exception)\b", text)))
    return result


def _train_anyway(page, anyway, pid: int, watch: float, screens: Path | None) -> dict:
    start = time.monotonic()
    anyway.click()
    phases, first, workers_peak, atoms_at = [], None, 0, None
    deadline = start + watch
    while time.monotonic() < deadline:
        try:
            line = browser.status(page)
        except Exception:  # noqa: BLE001 - between two redraws
            line = ""
        if "Training" in line:
            first = first or round(time.monotonic() - start, 2)
            phase = line.rsplit("·", 1)[-1].strip()
            if not phases or phases[-1] != phase:
                phases.append(phase)
                log(f"{time.monotonic() - start:6.1f} s  {phase}")
        if atoms_at is None and browser.atoms_src(page):
            atoms_at = round(time.monotonic() - start, 2)
        for worker in training_workers(pid):
            workers_peak = max(workers_peak, _status_kib(worker, "VmHWM"))
        time.sleep(0.25)
    if screens:
        page.screenshot(path=str(screens / "train-running.png"), full_page=True)
    browser.press(page, "Stop")
    stopping = time.monotonic()
    # the stopped model crosses back to the server and into the run store: part of the server's peak
    browser.wait_until(lambda: "Stopped" in browser.status(page), timeout=120, what="the run stopped")
    stopped_after = round(time.monotonic() - stopping, 1)
    time.sleep(5.0)
    return {"stopped_after_s": stopped_after, "anyway_to_first_status_s": first, "phases": phases[:8],
            "atoms_shown_after_s": atoms_at,
            "watched_s": watch, "workers_peak_MiB": round(workers_peak / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--watch", type=float, default=60.0, help="seconds to watch the run trained anyway")
    parser.add_argument("--with-yes", action="store_true", help="also time the CLI run with --yes (~1 min, ~4 GB)")
    parser.add_argument("--screens", type=Path, help="save screenshots of the Data and Train pages here")
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    if args.screens:
        args.screens.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.npy"
        np.save(path, np.random.default_rng(0).random(SHAPE, dtype=np.float32))
        results = {"shape": list(SHAPE), "cli": [cli_run(path)]}
        log(f"cli: {results['cli'][0]}")
        if args.with_yes:
            results["cli"].append(cli_run(path, "--yes"))
            log(f"cli --yes: {results['cli'][1]}")
        if not args.skip_server:
            results["server"] = server_pass(path, args.watch, args.screens)
            if args.screens:
                results["server_refusing"] = server_pass(path, 0, args.screens, SAE_EXPLORER_RUN_MEMORY="2G")
    results.update(device="cpu", gpu="not measured (no GPU here)", commit=commit(),
                   date=time.strftime("%Y-%m-%d %H:%M", time.gmtime()))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
