"""A real ``locust`` web UI in a subprocess, and a headless Chromium to drive it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import LOCUST, LOCUSTFILE, ROOT
from tests.support.influx import find_binary, free_port

CHROMIUM = find_binary("chromium", "/usr/bin/chromium")


@dataclass
class WebUI:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return str(response.read().decode("utf-8", "replace"))

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log_text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"{text!r} never appeared in the log: {self.log_text()[-3000:]}")
            time.sleep(0.2)


@contextlib.contextmanager
def web_ui(folder: Path, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> Iterator[WebUI]:
    """Start ``locust -f endurance.py`` with the web UI on a free loopback port; SIGTERM it at the end."""
    port = free_port()
    log = folder / "locust.log"
    folder.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(LOCUST), "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1", "--web-port", str(port), *args],
            cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )  # fmt: skip
    running = WebUI(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(running.url, timeout=2).close()
            break
        except urllib.error.HTTPError:
            break  # it answers (--web-login: 401 without credentials)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the web UI did not come up: {running.log_text()[-2000:]}")
            time.sleep(0.3)
    try:
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
