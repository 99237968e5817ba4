"""The master's CPU while browser tabs watch a run: does the web UI load the process that keeps the heartbeats?

Run from the repository root:  .venv/bin/python -m benchmarks.web_tabs [--tabs 5] [--seconds 60] [--page PATH ...]

A distributed run on this machine (``--processes 2``: the master and two workers, against the workers' embedded
mocks, sped up 20x) is started from the web UI's ``/swarm`` route. The master's CPU (psutil, the master process
only: the users run in the workers) is measured for ``--seconds`` with no browser, then again with ``--tabs``
headless Chromium tabs open on each ``--page``. Printed: one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

ROOT = Path.cwd()
LOCUST = Path(sys.executable).with_name("locust")
RUN = ["-u", "8", "-r", "8", "--s2s-pace", "20", "--mock-time-scale", "20", "--think-time", "0.05", "--chunk-ms", "100"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the web UI did not come up") from None
            time.sleep(0.3)


def _cpu_percent(pid: int, seconds: float) -> float:
    process = psutil.Process(pid)
    process.cpu_percent(None)
    time.sleep(seconds)
    return float(process.cpu_percent(None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--page", action="append", default=[], help="path each tab opens (repeatable)")
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    pages = args.page or ["/?tab=s2s-sessions"]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        log = (Path(folder) / "locust.log").open("wb")
        master = subprocess.Popen(
            [str(LOCUST), "-f", str(ROOT / "locustfiles" / "endurance.py"), "--web-host", "127.0.0.1",
             "--web-port", str(port), "--processes", "2", "--report-dir", str(Path(folder) / "run"), *RUN],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
        )  # fmt: skip
        try:
            _wait_up(url, master)
            time.sleep(3)  # the workers connect
            form = urllib.parse.urlencode({"user_count": 8, "spawn_rate": 8, "host": ""}).encode()
            urllib.request.urlopen(url + "/swarm", data=form, timeout=10).close()
            time.sleep(10)  # sessions under way
            idle = _cpu_percent(master.pid, args.seconds)
            print(json.dumps({"label": args.label, "tabs": 0, "master_cpu_percent": round(idle, 1)}), flush=True)
            with sync_playwright() as playwright:
                chromium = "/usr/bin/chromium"
                browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                for page_path in pages:
                    for _ in range(args.tabs):
                        page = browser.new_page(viewport={"width": 1400, "height": 1600})
                        page.goto(url + page_path, wait_until="domcontentloaded", timeout=120_000)
                time.sleep(5)
                loaded = _cpu_percent(master.pid, args.seconds)
                browser.close()
            row = {"label": args.label, "tabs": args.tabs, "pages": pages, "master_cpu_percent": round(loaded, 1)}
            print(json.dumps(row), flush=True)
        finally:
            master.terminate()
            try:
                master.wait(timeout=60)
            except subprocess.TimeoutExpired:
                master.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
