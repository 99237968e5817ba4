"""End to end: the real ``locust`` command, headless, against the embedded mock; assertions on sessions.jsonl."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.integration.conftest import LOCUST, LOCUSTFILE, ROOT, LocustRun

FAST = ["--s2s-pace", "20", "--mock-time-scale", "20", "--think-time", "0.05", "--chunk-ms", "100"]


def by_model(sessions: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for session in sessions:
        grouped.setdefault(session["model"], []).append(session)
    return grouped


def test_the_default_models_reproduce_the_seed_finding(locust_run: Any) -> None:
    run = locust_run("-u", "2", "-r", "2", "--sessions-per-user", "1", "--turns", "40", "--run-time", "4m", *FAST)
    assert run.returncode == 0, run.stderr[-3000:]
    sessions = by_model(run.sessions())
    assert sorted(sessions) == ["gpt-realtime", "gpt-realtime-2"]

    (healthy,) = sessions["gpt-realtime"]
    assert healthy["outcome"] == "completed"
    assert healthy["turns_completed"] == healthy["turns_planned"] == 40
    assert healthy["failure_class"] is None and healthy["censored"] is True
    assert healthy["close_code"] == 1000 and healthy["close_frame_received"] is True
    assert healthy["session_id"].startswith("sess_")

    (failing,) = sessions["gpt-realtime-2"]
    assert failing["outcome"] == "failed"
    assert failing["failure_class"] == "response.zero_audio"
    assert failing["end_class"] == "transport.closed_no_frame"
    assert failing["close_frame_received"] is False
    assert 285 <= failing["capacity_to_silent_failure_s"] <= 315
    turn = failing["failure_turn"]
    assert failing["silent_failure_turn"] == turn
    assert failing["turns_completed"] == turn - 1
    outcomes = [t["outcome"] for t in failing["turns"]]
    assert outcomes[turn - 1 : turn + 1] == ["response.zero_audio", "transport.closed_no_frame"]
    assert set(outcomes[: turn - 1]) == {"ok"}
    ok_turns = [t for t in failing["turns"] if t["outcome"] == "ok"]
    assert all(t["ttfa_ms"] > 0 and t["assistant_audio_s"] > 2 for t in ok_turns)

    report = (run.report_dir / "report.md").read_text()
    assert "gpt-realtime-2" in report and "response.zero_audio" in report
    assert "Capacity to silent failure" in run.stdout
    # every prompt chunk's lag, per worker, beside the sessions; the report and the terminal give p50/p99/max
    assert "## Load generator pacing" in report and (run.report_dir / "pacing.json").is_file()
    assert "Pacing lag per prompt chunk: p50" in run.stdout


def test_server_vad_turns_complete_against_the_mock(locust_run: Any) -> None:
    run = locust_run(
        "-u", "1", "-r", "1", "--sessions-per-user", "1", "--turns", "3", "--turn-mode", "server_vad",
        "--s2s-model", "gpt-realtime", "--run-time", "2m", *FAST,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    (session,) = run.sessions()
    assert session["turn_mode"] == "server_vad"
    assert session["outcome"] == "completed" and session["turns_completed"] == 3


def test_sessions_cut_by_the_end_of_the_run_are_censored_as_harness_stopped(locust_run: Any) -> None:
    run = locust_run("-u", "1", "-r", "1", "--s2s-model", "gpt-realtime", "--run-time", "4s")
    assert run.returncode == 0, run.stderr[-2000:]  # a stop mid-session once crashed gevent's event loop
    assert (run.report_dir / "report.html").is_file()
    sessions = run.sessions()
    assert sessions and sessions[-1]["outcome"] == "stopped"
    assert sessions[-1]["end_class"] == "harness.stopped" and sessions[-1]["failure_class"] is None


def test_a_run_ended_by_sigterm_records_its_sessions_as_stopped_and_writes_the_report(tmp_path: Path) -> None:
    report_dir = tmp_path / "run"
    process = subprocess.Popen(
        [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--only-summary", "--exit-code-on-error", "0",
         "--report-dir", str(report_dir), "-u", "2", "-r", "2", "--s2s-model", "gpt-realtime", "--run-time", "5m",
         *FAST],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (report_dir / "sessions.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.5)  # the first sessions (of 60 turns at 20x) take a few seconds
        time.sleep(2)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    sessions = LocustRun(process.returncode, "", stderr, report_dir).sessions()
    # Users stop before the embedded mock goes away: no failures made up by our own shutdown.
    assert {s["outcome"] for s in sessions} <= {"completed", "stopped"}, [s["end_class"] for s in sessions]
    assert "stopped" in [s["outcome"] for s in sessions]
    assert (report_dir / "report.html").is_file() and (report_dir / "report.md").is_file()
