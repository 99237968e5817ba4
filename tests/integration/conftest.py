"""Helpers to run the real ``locust`` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "locustfiles" / "endurance.py"
LOCUST = Path(sys.executable).with_name("locust")


@dataclass
class LocustRun:
    returncode: int
    stdout: str
    stderr: str
    report_dir: Path

    def sessions(self) -> list[dict[str, Any]]:
        path = self.report_dir / "sessions.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


def run_locust(report_dir: Path, *args: str, timeout: float = 300, env: dict[str, str] | None = None) -> LocustRun:
    command = [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--only-summary", "--exit-code-on-error", "0"]
    command += ["--report-dir", str(report_dir)]
    process = subprocess.run(
        [*command, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return LocustRun(process.returncode, process.stdout, process.stderr, report_dir)


def private_master_port() -> tuple[str, ...]:
    """``--processes N`` binds Locust's default master port (5557) unless told otherwise: a port of the test's own,
    so that another run on the machine cannot take it."""
    from tests.support.influx import free_port

    port = str(free_port())
    return ("--master-bind-port", port, "--master-port", port)


@pytest.fixture
def locust_run(tmp_path: Path) -> Any:
    def run(*args: str, **kwargs: Any) -> LocustRun:
        return run_locust(tmp_path / "run", *args, **kwargs)

    return run
