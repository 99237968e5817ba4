"""Distributed runs: a real ``locust --master`` and two ``locust --worker`` processes against the embedded mocks."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.conftest import LOCUST, LOCUSTFILE, ROOT, LocustRun
from tests.integration.test_endurance_run import FAST
from tests.support.influx import free_port


class Cluster:
    """One master and its workers; everything is killed at the end of the test, whatever happened."""

    def __init__(self, report_dir: Path) -> None:
        self.report_dir = report_dir
        self.port = free_port()
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


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path / "run")
    yield running
    running.kill_all()


def _report(run: LocustRun) -> dict[str, Any]:
    return json.loads((run.report_dir / "report.json").read_text())


def test_a_master_and_two_workers_write_every_session_once_and_the_report_agrees(cluster: Cluster) -> None:
    cluster.start("-u", "4", "-r", "4", "--sessions-per-user", "2", "--turns", "5", "--run-time", "3m", *FAST)
    run = cluster.wait()
    assert run.returncode == 0, run.stderr[-3000:]

    sessions = run.sessions()
    assert len(sessions) == 8
    assert len({s["session_id"] for s in sessions}) == 8
    assert Counter(s["worker"] for s in sessions) == {"worker-0": 4, "worker-1": 4}
    assert all(s["outcome"] == "completed" and len(s["turns"]) == 5 for s in sessions)

    report = _report(run)
    assert report["sessions"] == 8
    for row in report["models"]:
        mine = [s for s in sessions if s["model"] == row["model"]]
        assert row["sessions"] == len(mine)
        assert row["turns_completed"] == sum(s["turns_completed"] for s in mine)
        assert row["total_audio_min"] == pytest.approx(sum(s["assistant_audio_s"] for s in mine) / 60)
    assert (run.report_dir / "report.md").is_file()


def test_the_end_of_the_run_time_waits_for_the_sessions_the_workers_were_playing(cluster: Cluster) -> None:
    # Sessions of 60 turns cannot finish in 12 s (and this model has no ceiling): at the end, every user holds
    # one open session.
    cluster.start("-u", "4", "-r", "4", "--turns", "60", "--run-time", "12s", "--s2s-model", "gpt-realtime", *FAST)
    run = cluster.wait()
    assert run.returncode == 0, run.stderr[-3000:]
    sessions = run.sessions()
    stopped = [s for s in sessions if s["outcome"] == "stopped"]
    assert len(stopped) == 4 and all(s["end_class"] == "harness.stopped" for s in stopped)
    assert all(s["turns_completed"] >= 1 for s in stopped)
    assert "waiting for the last records of 4 open sessions" in run.stderr
    assert not [s for s in sessions if s["outcome"] == "lost"]


def test_a_worker_killed_mid_run_has_its_open_sessions_counted_as_lost(cluster: Cluster) -> None:
    cluster.start(
        "-u", "4", "-r", "4", "--sessions-per-user", "1", "--turns", "40", "--run-time", "3m",
        "--s2s-model", "gpt-realtime", *FAST,
    )  # fmt: skip
    victim = cluster.workers[1]
    # Wait until the victim runs its embedded mock and has played a few turns, then kill it without warning.
    deadline = time.monotonic() + 60
    while not psutil.Process(victim.pid).children() and time.monotonic() < deadline:
        time.sleep(0.2)
    (mock,) = psutil.Process(victim.pid).children()
    time.sleep(4)
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    run = cluster.wait()
    assert run.returncode == 0, run.stderr[-3000:]
    sessions = run.sessions()
    lost = [s for s in sessions if s["end_class"] == "harness.worker_lost"]
    finished = [s for s in sessions if s["end_class"] != "harness.worker_lost"]
    assert len(lost) == 2 and len(finished) == 2
    assert len({s["worker"] for s in lost}) == 1 and {s["worker"] for s in finished} != {lost[0]["worker"]}
    assert all(s["outcome"] == "lost" and s["silent_censored"] and s["turns_completed"] >= 1 for s in lost)
    assert all(s["outcome"] == "completed" and s["turns_completed"] == 40 for s in finished)
    assert "open sessions recorded as lost" in run.stderr
    assert _report(run)["sessions"] == 4
    mock.wait(timeout=15)  # the killed worker's embedded mock noticed and exited
