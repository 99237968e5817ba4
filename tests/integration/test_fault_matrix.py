"""Faults a long soak meets, end to end with real Locust processes: each run ends by itself and accounts for every
session that ran (completed, failed with a class, or censored)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.integration.test_endurance_run import FAST
from tests.support.cluster import Cluster

#: A worker whose master is gone stops within the watchdog's silence (20 s) plus the stop of its users.
WORKER_EXIT_BOUND_S = 45


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[list[Cluster]]:
    made: list[Cluster] = []
    yield made
    for cluster in made:
        cluster.kill_all()


def _wait_for_turns(cluster: Cluster) -> None:
    """Until the workers run their embedded mocks and have played a few turns."""
    deadline = time.monotonic() + 60
    while not all(psutil.Process(w.pid).children() for w in cluster.workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)


def test_workers_of_a_killed_master_stop_and_a_new_master_on_its_port_records_only_its_own_run(
    tmp_path: Path, clusters: list[Cluster]
) -> None:
    first = Cluster(tmp_path / "first")
    clusters.append(first)
    first.start("-u", "4", "-r", "4", "--turns", "300", "--run-time", "5m", "--s2s-model", "gpt-realtime", *FAST)
    _wait_for_turns(first)
    assert first.master is not None
    first.master.send_signal(signal.SIGKILL)
    first.master.wait()
    killed_at = time.monotonic()

    # A new run on the same port: the old workers reconnect to it, and must neither play for it nor be recorded.
    second = Cluster(tmp_path / "second", port=first.port)
    clusters.append(second)
    second.start("-u", "4", "-r", "4", "--sessions-per-user", "1", "--turns", "5", "--run-time", "3m", *FAST)
    for stray in first.workers:
        stray.wait(timeout=WORKER_EXIT_BOUND_S)
    stopped_after = time.monotonic() - killed_at
    run = second.wait()

    assert run.returncode == 0, run.stderr[-3000:]
    assert stopped_after < WORKER_EXIT_BOUND_S
    sessions = run.sessions()
    assert len({s["run_id"] for s in sessions}) == 1
    assert Counter(s["session_id"] for s in sessions).most_common(1)[0][1] == 1  # each session once
    assert len(sessions) == 4 and all(s["outcome"] == "completed" for s in sessions)
    assert not [s for s in sessions if s["outcome"] == "lost"]


def test_the_embedded_mocks_session_ids_differ_between_runs(tmp_path: Path, clusters: list[Cluster]) -> None:
    ids = []
    for name in ("a", "b"):
        cluster = Cluster(tmp_path / name)
        clusters.append(cluster)
        cluster.start("-u", "2", "-r", "2", "--sessions-per-user", "1", "--turns", "2", "--run-time", "2m", *FAST)
        run = cluster.wait()
        assert run.returncode == 0, run.stderr[-3000:]
        ids.append({s["session_id"] for s in run.sessions()})
    assert len(ids[0]) == 2 and not ids[0] & ids[1]
