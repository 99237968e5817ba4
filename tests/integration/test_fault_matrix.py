"""Faults a long soak meets, end to end with real Locust processes: each run ends by itself and accounts for every
session that ran (completed, failed with a class, or censored)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.conftest import LOCUST, LOCUSTFILE, ROOT, LocustRun
from tests.integration.test_endurance_run import FAST
from tests.support.cluster import Cluster
from tests.support.influx import free_port
from tests.support.stall_proxy import StallProxy

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


# --- the target, InfluxDB, the network and the master's signals ----------------------------------------------

KEY = "sk-fault-matrix-key-0123456789"
#: A gated run: the exit-code table decides (0: the harness is fine and no silent failure; 3: a silent failure).
GATED = ["--check-silent-failure-rate", "0"]
TRANSPORT_CLASSES = {"transport.closed_no_frame", "transport.closed_frame"}


def _locust(report_dir: Path, *args: str) -> subprocess.Popen[str]:
    """Headless ``locust``; the key is the standalone mock's (the embedded mock has its own, used without one)."""
    key = KEY if "--s2s-url" in args else ""
    command = [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--only-summary", "--report-dir", str(report_dir)]
    command += [] if "--exit-code-on-error" in args else ["--exit-code-on-error", "1"]
    return subprocess.Popen(
        [*command, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "S2S_API_KEY": key, "OPENAI_API_KEY": ""},
    )  # fmt: skip


def _finish(process: subprocess.Popen[str], report_dir: Path, timeout: float = 120) -> LocustRun:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return LocustRun(process.returncode, stdout, stderr, report_dir)


def _standalone_mock(port: int) -> subprocess.Popen[str]:
    mock = subprocess.Popen(
        [sys.executable, "-m", "s2s_users", "mock", "--port", str(port), "--time-scale", "20", "--api-key", KEY],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert mock.stdout is not None and "listening on" in mock.stdout.readline()
    return mock


def _sessions_open_to(process: subprocess.Popen[str], port: int, count: int, timeout_s: float = 60) -> None:
    """Until ``process`` holds ``count`` established connections to ``port`` (its users are in their sessions)."""
    deadline = time.monotonic() + timeout_s
    while True:
        held = [
            c for c in psutil.Process(process.pid).net_connections("tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
        ]  # fmt: skip
        if len(held) >= count:
            return
        assert time.monotonic() < deadline and process.poll() is None, "the users never connected"
        time.sleep(0.1)


def _accounted(sessions: list[dict[str, Any]]) -> None:
    """Every session completed, failed with a class, or was censored with its reason."""
    for s in sessions:
        assert s["outcome"] in {"completed", "failed", "stopped", "expired", "lost"}, s["outcome"]
        if s["outcome"] == "failed":
            assert s["failure_class"] and s["end_class"], s
        if s["outcome"] != "completed":
            assert s["end_class"], s


def test_the_mock_killed_and_restarted_mid_run_fails_sessions_in_flight_then_users_retry_and_complete(
    tmp_path: Path,
) -> None:
    port = free_port()
    mock = _standalone_mock(port)
    report_dir = tmp_path / "run"
    process = _locust(
        report_dir, "-u", "2", "-r", "2", "--sessions-per-user", "3", "--turns", "6", "--s2s-model", "gpt-realtime",
        "--s2s-url", f"ws://127.0.0.1:{port}/v1/realtime", "--run-time", "2m", *FAST, *GATED,
    )  # fmt: skip
    try:
        _sessions_open_to(process, port, 2)  # both users in their first session (the preflight has closed)
        time.sleep(1.0)
        killed_at = time.time()
        mock.kill()
        mock.wait()
        time.sleep(3.0)  # down: the users' next connections are refused
        mock = _standalone_mock(port)
        run = _finish(process, report_dir)
    finally:
        mock.kill()
        mock.wait()

    # A silent failure (a socket dropped without a close frame) happened: the gate says so.
    assert run.returncode == 3, run.stderr[-3000:]
    sessions = sorted(run.sessions(), key=lambda s: s["started_at"])
    assert len(sessions) == 6  # 2 users x 3 sessions, each written once
    _accounted(sessions)
    cut = [s for s in sessions if s["started_at"] < killed_at]
    assert len(cut) == 2 and {s["end_class"] for s in cut} <= TRANSPORT_CLASSES, cut
    assert all(s["failure_class"] in TRANSPORT_CLASSES and s["close_frame_received"] is False for s in cut)
    refused = [s for s in sessions if s["end_class"] == "connect.rejected"]
    assert refused and all(s["http_status"] is None and "connection refused" in s["failure_detail"] for s in refused)
    # Users wait before they try again (backoff), then the restarted mock serves them.
    after = [s for s in sessions if s["started_at"] > max(r["ended_at"] for r in refused)]
    assert after and min(s["started_at"] for s in after) - min(r["ended_at"] for r in refused) >= 4.5
    assert [s["outcome"] for s in after] == ["completed"] * len(after)
    report = (report_dir / "report.md").read_text()
    assert "transport.closed_no_frame" in report and "connect.rejected" in report
    assert "s2s: gate failed" in run.stderr and "Traceback" not in run.stderr


def test_influxdb_down_for_the_whole_run_spools_every_point_and_the_run_completes(tmp_path: Path) -> None:
    influx_url = f"http://127.0.0.1:{free_port()}"
    report_dir = tmp_path / "run"
    process = _locust(
        report_dir, "-u", "1", "-r", "1", "--sessions-per-user", "1", "--turns", "3", "--s2s-model", "gpt-realtime",
        "--influx-url", influx_url, "--influx-token", "t", "--run-time", "2m", *FAST, *GATED,
    )  # fmt: skip
    run = _finish(process, report_dir)
    assert run.returncode == 0, run.stderr[-3000:]
    warnings = [line for line in run.stderr.splitlines() if "influx: cannot reach" in line]
    assert len(warnings) == 1 and f"InfluxDB at {influx_url} at start-up (connection refused)" in warnings[0]
    (session,) = run.sessions()
    assert session["outcome"] == "completed", session
    summary = re.search(
        r"influx: 0 points written \((\d+) went through the spool\), (\d+) left on disk in (\S+):", run.stdout
    )
    assert summary is not None, run.stdout[-3000:]
    assert int(summary.group(2)) > 0 and Path(summary.group(3)).is_dir()
    assert any(Path(summary.group(3)).iterdir())  # the points wait there for `python -m s2s_users replay`
    assert (report_dir / "report.html").is_file() and "Traceback" not in run.stderr
    assert f"cannot reach InfluxDB at {influx_url} at start-up" in (report_dir / "report.md").read_text()


@pytest.mark.parametrize(
    ("where", "server_bytes", "end_class"),
    [("handshake", 0, "connect.rejected"), ("mid-stream", 50_000, "timeout.stall")],
)
def test_a_network_stall_is_classified_and_the_run_ends(
    tmp_path: Path, where: str, server_bytes: int, end_class: str
) -> None:
    port = free_port()
    mock = _standalone_mock(port)
    report_dir = tmp_path / "run"
    try:
        with StallProxy(port, pass_connections=1, stall_after_server_bytes=server_bytes).running() as proxy:
            process = _locust(
                report_dir, "-u", "1", "-r", "1", "--sessions-per-user", "1", "--turns", "3", "--turn-timeout", "2",
                "--s2s-model", "gpt-realtime", "--s2s-url", proxy.url, "--run-time", "2m", *FAST, *GATED,
            )  # fmt: skip
            run = _finish(process, report_dir)
            assert proxy.stalled == [2]  # the preflight went through; the session's connection stalled
    finally:
        mock.kill()
        mock.wait()
    (session,) = run.sessions()
    _accounted([session])
    assert session["outcome"] == "failed" and session["end_class"] == end_class, session
    if where == "handshake":
        assert "no answer in time" in session["failure_detail"]
        assert run.returncode == 0, run.stderr[-3000:]  # visible, not silent: the gate passes
    else:
        assert session["failure_class"] == "timeout.stall" and session["turns"][0]["assistant_audio_s"] > 0
        assert run.returncode == 3, run.stderr[-3000:]  # a silent failure: the gate fails
    assert end_class in (report_dir / "report.md").read_text() and "Traceback" not in run.stderr


def test_sigint_to_the_master_of_a_distributed_run_stops_sessions_writes_the_report_and_exits(
    tmp_path: Path, clusters: list[Cluster]
) -> None:
    cluster = Cluster(tmp_path / "run")
    clusters.append(cluster)
    cluster.start(
        "-u", "4", "-r", "4", "--turns", "60", "--s2s-model", "gpt-realtime", "--run-time", "5m", *FAST,
        "--max-lost-sessions", "0",
    )  # fmt: skip
    _wait_for_turns(cluster)
    assert cluster.master is not None
    cluster.master.send_signal(signal.SIGINT)
    run = cluster.wait(timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]  # gated: no session lost, no exception: the harness is fine
    sessions = run.sessions()
    _accounted(sessions)
    assert {s["outcome"] for s in sessions} <= {"completed", "stopped"}
    assert [s for s in sessions if s["outcome"] == "stopped"]  # the sessions open at Ctrl-C, censored
    assert all(s["end_class"] == "harness.stopped" for s in sessions if s["outcome"] == "stopped")
    assert (cluster.report_dir / "report.html").is_file()
    assert "harness.stopped" in (cluster.report_dir / "report.md").read_text()
    assert all(worker.poll() is not None for worker in cluster.workers)
    assert "Traceback" not in run.stderr


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (we run as root, as the suite's system checks do)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_report_disk_is_not_fatal_one_clear_line_every_session_counted_and_exit_1(tiny_disk: Path) -> None:
    report_dir = tiny_disk / "run"
    process = _locust(
        report_dir, "-u", "2", "-r", "2", "--sessions-per-user", "14", "--turns", "3", "--s2s-model", "gpt-realtime",
        "--run-time", "2m", *FAST, "--exit-code-on-error", "0",
    )  # fmt: skip
    run = _finish(process, report_dir)
    # Not gated, and no turn failed: only the lost files make the exit code 1 ("the harness broke").
    assert run.returncode == 1, run.stderr[-3000:]
    first = [line for line in run.stderr.splitlines() if "s2s: cannot write" in line and "sessions.jsonl" in line]
    assert len(first) == 1 and "(No space left on device): this and later session records are kept" in first[0]
    assert len([line for line in run.stderr.splitlines() if "s2s: cannot write the report in" in line]) == 1
    assert "exit code 1 (harness broke)" in run.stderr and "Traceback" not in run.stderr
    # Every session reached the end-of-run table, though not all reached the disk; what is on disk is whole lines.
    assert "84 / 84" in run.stdout and "0 / 28" in run.stdout, run.stdout[-2000:]
    on_disk = run.sessions()
    assert 0 < len(on_disk) < 28 and all(s["outcome"] == "completed" for s in on_disk)
    assert not (report_dir / "report.html").exists()  # no truncated report that looks whole
    assert "s2s: report in" not in run.stdout
