"""The InfluxDB sink against a real InfluxDB (influxd 1.6 behind nginx speaking the v2 write API)."""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.metrics.lag import LagFigures
from s2s_users.io.sinks.influx import (
    SESSION_MEASUREMENT,
    TURN_MEASUREMENT,
    WORKER_MEASUREMENT,
    InfluxSettings,
    InfluxSink,
    SinkSummary,
    check_connection,
)
from tests.io.sinks.conftest import StubServer
from tests.support.influx import InfluxDatabase, free_port
from tests.support.records import LABELS, T0, session, turn

ROOT = Path(__file__).resolve().parents[3]


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Poll for a state the background writer reaches (generous bound: a hang fails, slowness does not)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def write_sessions(sink: InfluxSink, first: int, count: int, turns: int = 4) -> None:
    """``count`` sessions of ``turns`` turns: every turn point, then the session point."""
    for number in range(first, first + count):
        record = session(f"s-{number}", turns=turns, ended_at=T0 + 60 + number)
        for item in record.turns:
            sink.write_turn(LABELS, record.session_id, item)
        sink.write_session(record)


def closed(sink: InfluxSink) -> SinkSummary:
    sink.close()
    assert sink.summary is not None
    return sink.summary


def test_every_turn_and_session_is_stored_once_and_counted_back_exactly(
    influx: InfluxDatabase, settings: InfluxSettings
) -> None:
    check_connection(settings)
    sink = InfluxSink(settings, run_id="run-1", worker="w1")
    write_sessions(sink, 0, 300, turns=5)  # 1500 turns of identical tags, 300 sessions ending per second
    sink.write_worker(active_sessions=12, pacing=LagFigures(900, 0.3, 1.2, 4.0), cpu_percent=40.0)
    summary = closed(sink)
    assert summary == SinkSummary(1801, spooled=0, left_on_disk=0, dropped=0, spool_dir=settings.spool_dir)
    assert influx.query_count(TURN_MEASUREMENT, "ttfa_ms") == 1500
    assert influx.query_count(SESSION_MEASUREMENT, "turns_completed") == 300
    assert influx.query_count(WORKER_MEASUREMENT, "active_sessions") == 1


def test_turns_of_many_sessions_ending_in_the_same_microsecond_all_survive(
    influx: InfluxDatabase, settings: InfluxSettings
) -> None:
    sink = InfluxSink(settings, run_id="run-1", worker="w1", background=False)
    same = turn(2, started_at=T0)
    for number in range(2000):
        sink.write_turn(LABELS, f"session-{number}", same)
    assert closed(sink).written == 2000
    assert influx.query_count(TURN_MEASUREMENT, "turn") == 2000


def test_tag_values_with_spaces_and_commas_round_trip_through_influxdb(
    influx: InfluxDatabase, settings: InfluxSettings
) -> None:
    labels = dataclasses.replace(LABELS, model="gpt 4o,mini=x", voice="")
    sink = InfluxSink(settings, run_id="run-1", worker="w1", background=False)
    sink.write_turn(labels, "s-1", turn(0, detail='a "quoted"\nmulti-line error'))
    closed(sink)
    rows = influx.select(f'SELECT "detail", "session_id" FROM "{TURN_MEASUREMENT}" GROUP BY "model", "voice"')
    assert len(rows) == 1
    assert rows[0]["model"] == "gpt 4o,mini=x" and rows[0]["voice"] == "none"
    assert rows[0]["detail"] == 'a "quoted" multi-line error' and rows[0]["session_id"] == "s-1"


def test_a_missing_database_is_a_one_line_config_error_naming_it(settings: InfluxSettings) -> None:
    with pytest.raises(ConfigError) as raised:
        check_connection(dataclasses.replace(settings, bucket="no_such_db"))
    message = str(raised.value)
    assert "'no_such_db'" in message and "404" in message and "CREATE DATABASE no_such_db" in message
    assert "\n" not in message


def test_a_wrong_token_is_a_one_line_config_error_that_never_shows_the_token(
    settings: InfluxSettings,
) -> None:
    with pytest.raises(ConfigError) as raised:
        check_connection(dataclasses.replace(settings, token="s2sadmin:wrong-password-123"))
    message = str(raised.value)
    assert "401" in message and "--influx-token" in message and "S2S_INFLUX_TOKEN" in message
    assert "wrong-password-123" not in message and "\n" not in message


def test_a_401_from_any_server_says_to_check_the_token(stub: StubServer, tmp_path: Path) -> None:
    stub.status, stub.body = 401, b'{"code":"unauthorized","message":"unauthorized access"}'
    settings = InfluxSettings(stub.url, "tok-SECRET", "org", "bucket", tmp_path)
    with pytest.raises(ConfigError, match=r"refused the token \(HTTP 401: unauthorized access\)") as raised:
        check_connection(settings)
    assert "tok-SECRET" not in str(raised.value)
    assert stub.requests[0].startswith("/api/v2/write?")


def test_nothing_listening_is_a_warning_naming_the_url_and_the_spool(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.WARNING, logger="s2s_users"):
        check_connection(InfluxSettings(url, "t", "org", "bucket", tmp_path / "probe"))  # no ConfigError: it goes on
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("influx: cannot reach")]
    assert f"cannot reach InfluxDB at {url} at start-up (connection refused)" in line
    assert f"spooled in {tmp_path}" in line and "--influx-url / S2S_INFLUX_URL" in line


def test_points_written_while_influxdb_is_down_are_spooled_then_replayed_exactly_once(
    influx: InfluxDatabase, settings: InfluxSettings
) -> None:
    sink = InfluxSink(settings, run_id="run-1", worker="w1", background=False)
    write_sessions(sink, 0, 20)
    sink.flush()
    influx.stop_influx()
    write_sessions(sink, 20, 30)
    sink.flush()  # nginx answers 502: all to the spool
    assert sink.spool_points == 150 and sink.queued == 0
    write_sessions(sink, 50, 10)
    sink.flush()  # backing off: straight to the spool, behind the older points
    influx.start_influx()
    write_sessions(sink, 60, 40)
    summary = closed(sink)
    assert (summary.written, summary.spooled, summary.left_on_disk, summary.dropped) == (500, 200, 0, 0)
    assert influx.query_count(TURN_MEASUREMENT, "ttfa_ms") == 400
    assert influx.query_count(SESSION_MEASUREMENT, "turns_completed") == 100
    assert not list(settings.spool_dir.glob("*.lp"))


#: How long the outage lasts in the fault test; the acceptance run uses S2S_INFLUX_OUTAGE_S=30.
OUTAGE_S = float(os.environ.get("S2S_INFLUX_OUTAGE_S", "3"))


def test_influxdb_stopped_in_the_middle_of_a_run_loses_no_point_and_stores_none_twice(
    influx: InfluxDatabase, settings: InfluxSettings
) -> None:
    sink = InfluxSink(settings, run_id="run-1", worker="w1")
    sessions = 0

    def run_for(seconds: float, until: Callable[[], bool] = lambda: True) -> None:
        # Users keep finishing sessions all along, as in a soak run; the durations set no expectation.
        nonlocal sessions
        end = time.monotonic() + seconds
        deadline = end + 60
        while time.monotonic() < end or not until():
            assert time.monotonic() < deadline, "the writer did not catch up"
            write_sessions(sink, sessions, 1)
            sessions += 1
            time.sleep(0.02)

    run_for(0.5, until=lambda: sink.written > 0)
    influx.stop_influx()
    run_for(OUTAGE_S, until=lambda: sink.spool_points > 0)
    influx.start_influx()
    run_for(0.5, until=lambda: sink.spool_points == 0)
    summary = closed(sink)
    assert (summary.written, summary.left_on_disk, summary.dropped) == (sessions * 5, 0, 0)
    assert summary.spooled > 0
    assert influx.query_count(TURN_MEASUREMENT, "ttfa_ms") == sessions * 4
    assert influx.query_count(SESSION_MEASUREMENT, "turns_completed") == sessions


def test_closing_while_influxdb_is_down_leaves_the_points_on_disk_for_the_replay_command(
    influx: InfluxDatabase, settings: InfluxSettings
) -> None:
    influx.stop_influx()
    sink = InfluxSink(settings, run_id="run-1", worker="w1")
    write_sessions(sink, 0, 40)
    summary = closed(sink)
    assert (summary.written, summary.left_on_disk, summary.dropped) == (0, 200, 0)
    assert f"replay with python -m s2s_users replay {settings.spool_dir}" in summary.message()
    influx.start_influx()
    env = {**os.environ, "S2S_INFLUX_TOKEN": influx.token, "S2S_INFLUX_BUCKET": influx.name}
    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "s2s_users",
            "replay",
            str(settings.spool_dir.parent),
            "--url",
            influx.url,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.startswith("influx replay: 200 points written")
    assert influx.token not in replay.stdout + replay.stderr
    assert influx.query_count(TURN_MEASUREMENT, "ttfa_ms") == 160
    assert influx.query_count(SESSION_MEASUREMENT, "turns_completed") == 40
    assert not list(settings.spool_dir.glob("*.lp"))


def test_the_replay_command_keeps_the_spool_when_influxdb_is_still_down(
    influx: InfluxDatabase, settings: InfluxSettings
) -> None:
    influx.stop_influx()
    sink = InfluxSink(settings, run_id="run-1", worker="w1", background=False)
    write_sessions(sink, 0, 2)
    closed(sink)
    replay = subprocess.run(
        [sys.executable, "-m", "s2s_users", "replay", str(settings.spool_dir)]
        + ["--url", influx.url, "--bucket", influx.name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 1
    assert "10 points remain" in replay.stderr and "HTTP 502" in replay.stderr
    assert len(list(settings.spool_dir.glob("*.lp"))) >= 1


def test_a_full_spool_drops_points_loudly_and_counts_them(
    influx: InfluxDatabase, settings: InfluxSettings, caplog: pytest.LogCaptureFixture
) -> None:
    influx.stop_influx()
    small = dataclasses.replace(settings, max_spool_bytes=20_000)
    sink = InfluxSink(small, run_id="run-1", worker="w1", background=False)
    write_sessions(sink, 0, 100)
    sink.flush()
    write_sessions(sink, 100, 100)
    summary = closed(sink)
    assert summary.dropped > 0
    assert summary.left_on_disk + summary.dropped == 1000
    assert sum(path.stat().st_size for path in small.spool_dir.glob("*.lp")) <= 20_000
    full = [record for record in caplog.records if "is full" in record.getMessage()]
    assert len(full) == 1 and full[0].levelname == "ERROR"
    assert f"{summary.dropped} DROPPED" in summary.message()


def test_users_are_not_held_up_while_influxdb_hangs(stub: StubServer, tmp_path: Path) -> None:
    stub.hang = True
    settings = InfluxSettings(
        stub.url,
        "t",
        "org",
        "b",
        tmp_path / "spool",
        flush_interval_s=0.05,
        request_timeout_s=3.0,
        close_deadline_s=5.0,
    )
    sink = InfluxSink(settings, run_id="run-1", worker="w1")
    write_sessions(sink, 0, 1)
    assert stub.received.wait(30), "the writer never posted"
    write_sessions(sink, 1, 199)  # the writer is stuck in a request: these calls only queue
    assert sink.queued == 995
    summary = closed(sink)
    stub.release.set()
    assert summary.written == 0
    assert summary.left_on_disk + summary.in_flight == 1000


def test_a_429_or_5xx_answer_sends_points_to_the_spool(stub: StubServer, tmp_path: Path) -> None:
    stub.status, stub.headers = 429, {"Retry-After": "1"}
    settings = InfluxSettings(stub.url, "t", "org", "b", tmp_path / "spool")
    sink = InfluxSink(settings, run_id="run-1", worker="w1", background=False)
    write_sessions(sink, 0, 2)
    sink.flush()
    stub.status = 503
    write_sessions(sink, 2, 2)
    summary = closed(sink)
    assert (summary.written, summary.left_on_disk, summary.rejected) == (0, 20, 0)


def test_points_influxdb_rejects_for_good_are_set_aside_not_replayed_forever(
    stub: StubServer,
    tmp_path: Path,
) -> None:
    stub.status, stub.body = 400, b'{"error":"partial write: field type conflict"}'
    settings = InfluxSettings(stub.url, "t", "org", "b", tmp_path / "spool")
    sink = InfluxSink(settings, run_id="run-1", worker="w1", background=False)
    write_sessions(sink, 0, 2)
    summary = closed(sink)
    assert (summary.rejected, summary.left_on_disk) == (10, 0)
    assert len((settings.spool_dir / "rejected" / "rejected.lp").read_text().splitlines()) == 10
    assert "10 rejected" in summary.message()


def test_the_sink_works_in_a_gevent_monkey_patched_process(
    influx: InfluxDatabase,
    settings: InfluxSettings,
) -> None:
    script = textwrap.dedent(
        f"""
        from gevent import monkey; monkey.patch_all()
        import gevent
        from pathlib import Path
        from s2s_users.io.sinks.influx import InfluxSettings, InfluxSink
        from tests.support.records import LABELS, session
        spool = Path({str(settings.spool_dir)!r})
        url, token, bucket = {influx.url!r}, {influx.token!r}, {influx.name!r}
        settings = InfluxSettings(url, token, "-", bucket, spool, flush_interval_s=0.1)
        sink = InfluxSink(settings, run_id="run-1", worker="w1")
        def user(n):
            for k in range(10):
                record = session(f"s-{{n}}-{{k}}", turns=3)
                for item in record.turns:
                    sink.write_turn(LABELS, record.session_id, item)
                    gevent.sleep(0.001)
                sink.write_session(record)
        gevent.joinall([gevent.spawn(user, n) for n in range(20)])
        sink.close()
        print(sink.summary.message())
        """
    )
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "influx: 800 points written, 0 left on disk"
    assert influx.query_count(TURN_MEASUREMENT, "ttfa_ms") == 600
    assert influx.query_count(SESSION_MEASUREMENT, "turns_completed") == 200
