"""Distributed runs: a real ``locust --master`` and two ``locust --worker`` processes against the embedded mocks."""

from __future__ import annotations

import json
import signal
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.conftest import LocustRun
from tests.integration.test_endurance_run import FAST
from tests.support.cluster import Cluster


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
    # each worker's chunk lags reached the master in its batches: the run is their sum
    run_row, *workers = report["pacing"]
    assert run_row["worker"] == "all" and [w["worker"] for w in workers] == ["worker-0", "worker-1"]
    assert all(w["chunks"] > 0 for w in workers) and run_row["chunks"] == sum(w["chunks"] for w in workers)


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
    # One lost session is allowed, the killed worker loses two: the harness broke, exit 1 (a gated run).
    cluster.start(
        "-u", "4", "-r", "4", "--sessions-per-user", "1", "--turns", "40", "--run-time", "3m",
        "--s2s-model", "gpt-realtime", "--max-lost-sessions", "1", *FAST,
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
    assert run.returncode == 1, run.stderr[-3000:]
    assert (
        "s2s: the harness broke: 2 sessions were lost with their worker, more than --max-lost-sessions 1" in run.stderr
    )
    harness = (
        ET.parse(run.report_dir / "junit.xml").getroot().find("testsuite/testcase[@name='the load generator held up']")
    )
    assert harness is not None and harness.find("failure") is not None
    assert json.loads((run.report_dir / "run.json").read_text())["health"]["lost_workers"] == 1
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
