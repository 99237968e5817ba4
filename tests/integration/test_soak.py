"""A time-scaled soak: 50 sessions of 400 turns against the 60-minute session cap, 20x faster than real time.

Every session must end as the mock's truth log says it did (the cap), with the same audio per turn. The wall time
is printed; pytest-timeout fails the test past 10 minutes, the acceptance bound.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import run_locust

SESSIONS = 50
SCALE = "20"


@pytest.mark.timeout(600)
def test_fifty_sessions_of_400_turns_end_at_the_60_minute_cap_as_the_truth_says(tmp_path: Path) -> None:
    started = time.monotonic()
    run = run_locust(
        tmp_path / "run",
        "-u", str(SESSIONS), "-r", "10", "--sessions-per-user", "1", "--turns", "400",
        "--mock-scenario", "soak-60min.toml", "--mock-time-scale", SCALE, "--s2s-pace", SCALE,
        "--think-time", "0.05", "--chunk-ms", "500", "--run-time", "9m",
        timeout=590,
    )  # fmt: skip
    wall_s = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-3000:]
    sessions = {s["session_id"]: s for s in run.sessions()}
    truth: dict[str, dict[str, Any]] = {}
    for line in (run.report_dir / "mock-truth-local.jsonl").read_text().splitlines():
        told = json.loads(line)
        truth[told["session_id"]] = told
    print(f"soak: {SESSIONS} sessions in {wall_s:.0f} s of wall time")

    assert len(sessions) == SESSIONS and set(sessions) == set(truth)
    for session_id, session in sessions.items():
        told = truth[session_id]
        assert told["end"] == "session_cap", told
        assert session["outcome"] == "expired" and session["end_class"] == "session.expired", session_id
        assert session["failure_class"] is None and session["close_code"] == 1001
        assert 200 < session["turns_completed"] < 400
        measured = [t["assistant_audio_s"] for t in session["turns"]]
        sent = told["turn_audio_s"] + [0.0] * (len(measured) - len(told["turn_audio_s"]))
        assert measured == pytest.approx(sent, abs=0.010), session_id
        # about an hour of server time each: the cap, not the turn count, ended the session
        assert 55 * 60 <= (session["ended_at"] - session["started_at"]) * float(SCALE) <= 61 * 60
