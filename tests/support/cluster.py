"""A real Locust master and its workers in subprocesses, killed at the end whatever happened."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.conftest import LOCUST, LOCUSTFILE, ROOT, LocustRun
from tests.support.influx import free_port


class Cluster:
    """One master and its workers; everything is killed at the end of the test, whatever happened."""

    def __init__(self, report_dir: Path, port: int | None = None) -> None:
        self.report_dir = report_dir
        self.port = port if port is not None else free_port()
        self.master: subprocess.Popen[str] | None = None
        self.workers: list[subprocess.Popen[str]] = []

    def start(self, *args: str, workers: int = 2) -> None:
        common = [str(LOCUST), "-f", str(LOCUSTFILE)]
        self.master = subprocess.Popen(
            [*common, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(self.port),
             "--headless", "--expect-workers", str(workers), "--only-summary", "--exit-code-on-error", "0",
             "--report-dir", str(self.report_dir), *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for _ in range(workers):
            self.workers.append(
                subprocess.Popen(
                    [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(self.port)],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )  # fmt: skip
            )

    def wait(self, timeout: float = 300) -> LocustRun:
        assert self.master is not None
        stdout, stderr = self.master.communicate(timeout=timeout)
        for worker in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        return LocustRun(self.master.returncode, stdout, stderr, self.report_dir)

    def kill_all(self) -> None:
        for process in [self.master, *self.workers]:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
