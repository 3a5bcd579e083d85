"""What the training workers' priority costs a run when the machine is busy with other work.

One `sae-topk` run on digits (1,500 steps) in a warm worker (``core.jobs``), timed from submit to done,
with the machine otherwise idle and beside ``--busy`` CPU-bound processes (a build, a video call), at
worker niceness 10, 5 (the default: workers step back for the pages) and 0 (an equal share), or the
``--levels`` given (``SAE_EXPLORER_WORKER_NICENESS``). The busy processes share one session, as a
terminal's or a desktop program's do. Alternates the cases ``--repeats`` times; prints the medians as the
last line of stdout (JSON, as the other scripts do).

    .venv/bin/python bench/worker_priority.py            # ~2 min on 2 cores
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import torch

from common import log, median, report  # first: it puts the project on sys.path

from core import datasets, models  # noqa: E402
from core.jobs import DONE, JobManager  # noqa: E402


def one_run(X, niceness: int, busy: int, steps: int) -> float:
    os.environ["SAE_EXPLORER_WORKER_NICENESS"] = str(niceness)
    manager = JobManager(max_running=1, warm=True)
    hogs = []
    try:
        if not manager.workers()[0].ready.wait(120):
            raise SystemExit("the training worker did not start within 120 s")
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        time.sleep(0.5)
        model = models.create("sae-topk", n_components=32, k=4, max_steps=steps, batch_size=64,
                              random_state=0, device="cpu")
        start = time.monotonic()
        job = manager.submit("bench", model, X)
        if not job.wait(600) or job.state != DONE:
            raise SystemExit(f"the run did not finish: {job.state}")
        return time.monotonic() - start
    finally:
        for hog in hogs:
            hog.kill()
        manager.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="CPU-bound processes beside the run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--levels", default="10,5,0", help="worker niceness values to compare (5: the default)")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    X = datasets.load("digits").X
    cases = [(niceness, busy) for niceness in levels for busy in (0, args.busy)]
    seconds: dict[tuple[int, int], list[float]] = {case: [] for case in cases}
    for repeat in range(args.repeats):
        for niceness, busy in cases:
            seconds[niceness, busy].append(one_run(X, niceness, busy, args.steps))
            log(f"repeat {repeat + 1}: niceness {niceness:2d}, {busy} busy: {seconds[niceness, busy][-1]:.1f} s")
    results = []
    for niceness in levels:
        idle, loaded = median(seconds[niceness, 0]), median(seconds[niceness, args.busy])
        results.append({"config": f"niceness {niceness}, {args.busy} busy processes", "project": round(loaded, 2),
                        "reference": round(idle, 2), "unit": "s (reference: the machine idle)",
                        "slowdown": round(loaded / idle, 2), "seconds": [round(s, 2) for s in seconds[niceness, args.busy]]})
    report(torch.device("cpu"), results, steps=args.steps, cores=os.cpu_count())


if __name__ == "__main__":
    main()
