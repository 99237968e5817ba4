"""End to end with InfluxDB: a real headless run writes one point per turn and per session, exactly."""

from __future__ import annotations

from typing import Any

from tests.integration.test_endurance_run import FAST
from tests.support.influx import InfluxDatabase


def test_a_run_writes_every_turn_and_session_to_influxdb(locust_run: Any, influx: InfluxDatabase) -> None:
    run = locust_run(
        "-u", "2", "-r", "2", "--sessions-per-user", "2", "--turns", "5", "--run-time", "2m", *FAST,
        "--influx-url", influx.url, "--influx-token", influx.token, "--influx-org", "-", "--influx-bucket", influx.name,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    sessions = run.sessions()
    turns = sum(len(s["turns"]) for s in sessions)
    assert len(sessions) == 4 and turns == 20
    assert influx.query_count("s2s_turn", "turn") == turns
    assert influx.query_count("s2s_session", "turns_completed") == len(sessions)
    assert "left on disk" in run.stdout and "0 left on disk" in run.stdout
    assert influx.token not in run.stdout + run.stderr


def test_a_missing_bucket_stops_the_run_at_start_with_one_line(locust_run: Any, influx: InfluxDatabase) -> None:
    run = locust_run(
        "-u", "1", "-r", "1", "--run-time", "10s", "--influx-url", influx.url, "--influx-token", influx.token,
        "--influx-bucket", "no_such_db", timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no_such_db" in errors[0]
    assert "Traceback" not in run.stderr
