"""Turn-taking end to end: the real tester against the embedded mock, checked against the mock's truth log.

One run splits its users between manual turns and server VAD (with a silence carrier), on two models: one whose
VAD takes leftover audio after an answer for speech, one whose answers start with 240 ms of silence. A second run
speaks over the answers (barge-in) of a model that stops 150 ms (server time) after the user starts speaking.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LocustRun, run_locust
from tests.integration.test_endurance_run import FAST

SCENARIO = """
name = "turn-taking"
seed = 5

[models.m-leftover]
audio = { dist = "constant", seconds = 3.0 }
leftover_at = [1, 2]

[models.m-silence]
audio = { dist = "constant", seconds = 3.0 }
leading_silence_ms = 240

[models.m-barge]
audio = { dist = "constant", seconds = 6.0 }
barge_in_stop_ms = 150
"""


def _truth(run: LocustRun) -> dict[str, dict[str, Any]]:
    lines = (run.report_dir / "mock-truth-local.jsonl").read_text().splitlines()
    return {line["session_id"]: line for line in map(json.loads, lines) if line.get("session_id")}


@pytest.fixture(scope="module")
def split_run(tmp_path_factory: pytest.TempPathFactory) -> LocustRun:
    folder = tmp_path_factory.mktemp("turn-taking")
    (folder / "scenario.toml").write_text(SCENARIO)
    run = run_locust(
        folder / "run",
        "-u", "4", "-r", "4", "--sessions-per-user", "1", "--turns", "4", "--run-time", "3m", *FAST,
        "--mock-scenario", str(folder / "scenario.toml"), "--s2s-model", "m-leftover,m-silence",
        "--turn-mode", "manual,server_vad", "--carrier", "silence",
        "--think-time", "0.5",  # room for an unasked answer to end before the next prompt talks over it
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_users_are_split_between_both_turn_modes_on_both_models(split_run: LocustRun) -> None:
    pairs = sorted((s["model"], s["turn_mode"]) for s in split_run.sessions())
    assert pairs == [("m-leftover", "manual"), ("m-leftover", "server_vad"), ("m-silence", "manual"),
                     ("m-silence", "server_vad")]  # fmt: skip


def test_every_delta_the_mock_sent_is_counted_and_unasked_answers_are_recorded(split_run: LocustRun) -> None:
    truth = _truth(split_run)
    for session in split_run.sessions():
        told = truth[session["session_id"]]
        assert session["assistant_audio_s"] == pytest.approx(told["assistant_audio_s"], abs=0.01)
        unasked = [r for r in told["responses"] if not r["solicited"]]
        assert session["unsolicited_responses"] == len(unasked)
    (vad_leftover,) = [s for s in split_run.sessions() if (s["model"], s["turn_mode"]) == ("m-leftover", "server_vad")]
    assert vad_leftover["unsolicited_reasons"] == {"leftover": 2}
    assert sum(not t["solicited"] for t in vad_leftover["turns"]) == 2
    assert vad_leftover["turns_completed"] == 4 and vad_leftover["outcome"] == "completed"


def test_audible_latency_is_first_audio_plus_the_leading_silence(split_run: LocustRun) -> None:
    for session in split_run.sessions():
        if session["model"] != "m-silence":
            continue
        answers = [t for t in session["turns"] if t["solicited"] and t["outcome"] == "ok"]
        assert len(answers) == 4
        for turn in answers:
            assert turn["audible_ms"] == pytest.approx(turn["ttfa_ms"] + 240, abs=5), turn


def test_the_report_puts_both_turn_modes_side_by_side(split_run: LocustRun) -> None:
    report = json.loads((split_run.report_dir / "report.json").read_text())
    rows = {(row["model"], row["turn_mode"]): row for row in report["turn_taking"]}
    assert set(rows) == {(m, t) for m in ("m-leftover", "m-silence") for t in ("manual", "server_vad")}
    for (_, mode), row in rows.items():
        assert row["ttfa_p50_ms"] is not None and row["audible_p95_ms"] is not None
        assert (row["endpointing_p50_ms"] is not None) == (mode == "server_vad")  # only server VAD endpoints
    assert rows[("m-leftover", "server_vad")]["unsolicited_responses"] == 2
    markdown = (split_run.report_dir / "report.md").read_text()
    assert "## Turn-taking" in markdown and "| m-silence | server_vad |" in markdown


def test_a_barge_in_stop_latency_matches_the_truth(tmp_path: Path) -> None:
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    run = run_locust(
        tmp_path / "run",
        "-u", "1", "-r", "1", "--sessions-per-user", "1", "--turns", "4", "--run-time", "3m",
        "--s2s-pace", "realtime", "--mock-time-scale", "1", "--think-time", "0.2", "--chunk-ms", "20",
        "--mock-scenario", str(tmp_path / "scenario.toml"), "--s2s-model", "m-barge", "--turn-mode", "server_vad",
        "--barge-in-after", "0.5",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    (session,) = run.sessions()
    told = _truth(run)[session["session_id"]]
    interrupted = [t for t in session["turns"] if t["barge_in"]]
    stopped = [r["barge_in"] for r in told["responses"] if "barge_in" in r]
    assert session["barge_ins"] == 3 and len(interrupted) == len(stopped) == 3
    for turn, truth_of_it in zip(interrupted, stopped, strict=True):
        assert turn["outcome"] == "ok" and turn["response_status"] == "cancelled"
        # The mock stops 150 ms after it hears us; we hear that, give or take a 20 ms chunk and the loopback.
        assert turn["stop_latency_ms"] == pytest.approx(truth_of_it["stop_latency_s"] * 1000, abs=40)
    assert session["turns_completed"] == 4
