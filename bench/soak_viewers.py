"""One run watched by many viewers: the server's CPU per viewer (issue 20), a sibling of bench/soak.py.

    .venv/bin/python bench/soak_viewers.py                    # 30 viewers, 40 s steady
    .venv/bin/python bench/soak_viewers.py --viewers 10 --seconds 20

It starts `streamlit run app.py`, one Chromium tab (Playwright) presses Train on the Train page (Steps and
batch size at their maximum, so the run outlasts the bench) and reads the run's address (?run=<id>); then
VIEWERS clients open that address without its key, each as its own Streamlit session. A viewer is a
websocket-level client (Streamlit's own protocol, ``streamlit.proto``): it asks for the page as the browser
does and answers each ``auto_rerun`` (the live panel's ``st.fragment(run_every=0.4)``) by asking for that
fragment again every interval, as the browser's timer does. So the server does a browser viewer's whole
work (a script run per refresh, the deltas sent), while the bench's side costs a fraction of a Chromium tab:
on this 2-core machine 30 Chromium tabs would take the cores the server is measured on.

Measured over the steady window: the server process's CPU (cores) with the owner's tab alone, then with the
viewers, and the difference per viewer; the training worker's CPU; each viewer's refreshes per second, the
longest gap between two of its refreshes, and whether the run's step it was shown kept growing. Not
measured: the browsers' own drawing (bench/soak.py measures Chromium tabs). The last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import websockets  # noqa: E402
from browser_support import (chromium, open_app, press, slider_keys, status, streamlit_process,  # noqa: E402
                             wait_until)
from common import training_workers  # noqa: E402
from soak import _cpu_seconds  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

STEP_RE = re.compile(rb"step ([\d,]+) /")
STAGGER_S = 0.2  # between two viewers opening the link (a class does not click at the same millisecond)
SETTLE_S = 3.0  # after every viewer has its page: their first full page runs are not the steady state
FIRST_PAGE_TIMEOUT_S = 60.0


class Viewer:
    """One websocket session on the run's address that refreshes its live panel as a browser tab would."""

    def __init__(self, base: str, query: str):
        self.base, self.query = base, query
        self.refreshes: list[float] = []  # when each script or fragment run finished
        self.steps: list[tuple[float, int]] = []  # (time, the run's step the page showed)
        self.page_hash = ""
        self.timers: dict[str, asyncio.Task] = {}
        self.opened_at: float | None = None

    def _ask(self, fragment_id: str = "") -> bytes:
        state = ClientState(query_string=self.query, page_name="train", page_script_hash=self.page_hash,
                            fragment_id=fragment_id, is_auto_rerun=bool(fragment_id),
                            context_info=ContextInfo(url=f"{self.base}/train"))
        return BackMsg(rerun_script=state).SerializeToString()

    async def _every(self, ws, interval: float, fragment_id: str) -> None:
        while True:
            await asyncio.sleep(interval)
            await ws.send(self._ask(fragment_id))

    async def watch(self, stop: asyncio.Event) -> None:
        host = urlsplit(self.base).netloc
        async with websockets.connect(f"ws://{host}/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=None, open_timeout=60) as ws:
            self.opened_at = time.monotonic()
            await ws.send(self._ask())
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except asyncio.TimeoutError:
                    continue
                now = time.monotonic()
                msg = ForwardMsg.FromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    self.page_hash = msg.new_session.page_script_hash or self.page_hash
                elif kind == "script_finished":
                    self.refreshes.append(now)
                elif kind == "auto_rerun":
                    fragment = msg.auto_rerun.fragment_id
                    if fragment not in self.timers:
                        self.timers[fragment] = asyncio.create_task(self._every(ws, msg.auto_rerun.interval, fragment))
                elif kind == "delta" and (found := STEP_RE.search(raw)):
                    self.steps.append((now, int(found.group(1).replace(b",", b""))))
            for timer in self.timers.values():
                timer.cancel()

    def figures(self, start: float, end: float) -> dict:
        times = [t for t in self.refreshes if start <= t <= end]
        gaps = [b - a for a, b in zip([start, *times], [*times, end])]
        shown = [step for t, step in self.steps if start <= t <= end]
        first = (self.refreshes[0] - self.opened_at) if self.refreshes and self.opened_at else None
        return {"refreshes_per_s": len(times) / (end - start), "longest_gap_s": max(gaps), "first_page_s": first,
                "gaps": len(gaps), "gaps_over_1s": sum(gap > 1.0 for gap in gaps),
                "step_grew": len(shown) >= 2 and shown[-1] > shown[0]}


def _cores(pids: list[int], seconds: float) -> float:
    """Cores the processes ``pids`` used over the next ``seconds`` (CPU seconds per second)."""
    before = sum(_cpu_seconds(pid) for pid in pids)
    time.sleep(seconds)
    return (sum(_cpu_seconds(pid) for pid in pids) - before) / seconds


def run(viewers: int = 30, seconds: float = 40.0, baseline_s: float = 10.0, say=print) -> dict:
    log = Path("/tmp/soak_viewers_server.log")
    with streamlit_process(log, SAE_EXPLORER_MAX_JOBS=1) as (url, pid), chromium() as browser:
        owner = open_app(browser.new_context(viewport={"width": 1400, "height": 1000}), url, "train")
        slider_keys(owner, "Steps", "End")
        slider_keys(owner, "Batch size", "End")
        press(owner, "Train")
        # the tab's own address (Playwright's page.url can lag behind the page's history.replaceState)
        address = lambda: parse_qs(urlsplit(owner.evaluate("location.href")).query)  # noqa: E731
        wait_until(lambda: "run" in address(), 60, "the run's address")
        query = {k: v[0] for k, v in address().items() if k != "key"}
        # a worker started on a busy machine can take a minute to import torch before the first steps
        wait_until(lambda: (found := STEP_RE.search(status(owner).encode())) and int(found.group(1).replace(b",", b"")),
                   180, "the run's first steps")
        time.sleep(3.0)  # the owner's tab settles
        workers = training_workers(pid)
        say(f"owner alone: measuring the server for {baseline_s:.0f} s ...")
        alone = _cores([pid], baseline_s)
        say(f"  server {alone:.2f} cores")

        async def _watch() -> dict:
            clients = [Viewer(url, urlencode(query)) for _ in range(viewers)]
            stop, tasks = asyncio.Event(), []
            for client in clients:
                tasks.append(asyncio.create_task(client.watch(stop)))
                await asyncio.sleep(STAGGER_S)
            deadline = time.monotonic() + FIRST_PAGE_TIMEOUT_S
            while not all(c.refreshes for c in clients) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            await asyncio.sleep(SETTLE_S)
            start = time.monotonic()
            server_before, workers_before = _cpu_seconds(pid), sum(_cpu_seconds(w) for w in workers)
            await asyncio.sleep(seconds)
            end = time.monotonic()
            server = (_cpu_seconds(pid) - server_before) / (end - start)
            trainer = (sum(_cpu_seconds(w) for w in workers) - workers_before) / (end - start)
            stop.set()
            failed = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if isinstance(r, BaseException)]
            for error in failed[:3]:
                say(f"  a viewer failed: {type(error).__name__}: {error}")
            return {"server": server, "trainer": trainer, "each": [c.figures(start, end) for c in clients]}

        say(f"{viewers} viewers join ?{urlencode(query)}, then {seconds:.0f} s steady ...")
        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
            watched = pool.submit(asyncio.run, _watch()).result()
        say(f"the owner's tab at the end: {status(owner)}")
        owner.context.close()
    each = watched["each"]
    rates = [v["refreshes_per_s"] for v in each]
    summary = {
        "viewers": viewers, "seconds": seconds, "load_average_1min": round(os.getloadavg()[0], 1),
        "server_cores_owner_alone": round(alone, 3), "server_cores_with_viewers": round(watched["server"], 3),
        "server_cores_per_viewer": round((watched["server"] - alone) / viewers, 4),
        "trainer_cores": round(watched["trainer"], 3),
        "refreshes_per_s": {"min": round(min(rates), 2), "median": round(statistics.median(rates), 2)},
        "longest_gap_s": round(max(v["longest_gap_s"] for v in each), 2),
        "first_page_s_max": max((v["first_page_s"] for v in each if v["first_page_s"] is not None), default=None),
        "viewers_without_a_page": sum(v["first_page_s"] is None for v in each),
        "viewers_refreshing_at_least_1_per_s": sum(v["longest_gap_s"] <= 1.0 for v in each),
        "share_of_gaps_over_1s": round(sum(v["gaps_over_1s"] for v in each) / max(1, sum(v["gaps"] for v in each)), 4),
        "viewers_seeing_the_step_grow": sum(v["step_grew"] for v in each),
    }
    say(f"server: {alone:.2f} cores with the owner alone, {watched['server']:.2f} with {viewers} viewers: "
        f"{summary['server_cores_per_viewer']:.4f} cores per viewer; training worker {watched['trainer']:.2f}")
    say(f"viewers: refreshes/s min {summary['refreshes_per_s']['min']}, median "
        f"{summary['refreshes_per_s']['median']}; longest gap {summary['longest_gap_s']} s; "
        f"{summary['viewers_refreshing_at_least_1_per_s']}/{viewers} never waited over 1 s "
        f"({summary['share_of_gaps_over_1s']:.1%} of all gaps were); "
        f"{summary['viewers_seeing_the_step_grow']}/{viewers} saw the step grow")
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=40.0, help="the steady window")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.viewers, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
