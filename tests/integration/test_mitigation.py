"""The seed's second question, end to end against the embedded mock's seed profile: rotation (A/B in one run), the
early warning, and the cost budget that stops a distributed run (real Locust master and worker processes)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from s2s_users.core.events import Usage
from s2s_users.core.metrics.cost import DEFAULT_TABLE
from tests.integration.conftest import LocustRun, private_master_port

FAST = ("--s2s-pace", "20", "--mock-time-scale", "20", "--think-time", "0.05", "--chunk-ms", "100")


def _arms(run: LocustRun) -> dict[tuple[str, str], dict[str, Any]]:
    sessions = run.sessions()
    by_arm = {(s["model"], s["arm"]): s for s in sessions}
    assert len(by_arm) == len(sessions) == 4, sorted(by_arm)
    return by_arm


def test_an_ab_run_rotates_half_the_users_and_the_rotated_arm_survives_all_60_turns(locust_run: Any) -> None:
    run = locust_run(
        "-u", "4", "-r", "4", "--sessions-per-user", "1", "--turns", "60", "--run-time", "5m", *FAST,
        "--ab-rotate-after", "4m", "--summary-chars", "500", "--expected-capacity", "gpt-realtime-2=5m",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    arms = _arms(run)
    control, rotated = arms[("gpt-realtime-2", "control")], arms[("gpt-realtime-2", "rotated")]
    # Without rotation the seed's model fails silently at five minutes (around turn 32)...
    assert control["failure_class"] == "response.zero_audio" and 285 <= control["capacity_to_silent_failure_s"] <= 315
    assert control["rotations"] == 0 and len(control["provider_session_ids"]) == 1
    # ...with it, all 60 turns play, in several provider sessions, and a rotation is never a failure.
    assert rotated["outcome"] == "completed" and rotated["turns_completed"] == 60
    assert rotated["failure_class"] is None and rotated["rotations"] >= 2
    assert len(rotated["provider_session_ids"]) == rotated["rotations"] + 1
    assert 0 < rotated["reinjected_chars"] <= 500 * rotated["rotations"]
    assert sum(t["after_rotation"] for t in rotated["turns"]) == rotated["rotations"]
    # The mock saw each fresh session told its summary (the truth log: one line per provider session).
    truth = [json.loads(line) for line in (run.report_dir / "mock-truth-local.jsonl").read_text().splitlines()]
    fresh = [t for t in truth if t["session_id"] in rotated["provider_session_ids"][1:]]
    assert len(fresh) == rotated["rotations"] and all(t["injected_chars"] > 0 for t in fresh)
    # The early warning fired before the silent failure, and never on the model without a ceiling.
    assert control["warning_turn"] is not None and control["warning_turn"] < control["silent_failure_turn"]
    assert arms[("gpt-realtime", "control")]["warning_turn"] is None
    assert arms[("gpt-realtime", "rotated")]["warning_turn"] is None
    # The report puts the arms side by side.
    report = (run.report_dir / "report.md").read_text()
    assert (
        "## Session rotation: arms side by side" in report and "## Early warning before each silent failure" in report
    )
    row = next(line for line in report.splitlines() if line.startswith("| gpt-realtime-2 | rotated |"))
    assert "| 60 / 60 |" in row and "| 0 / 1 |" in row
    data = json.loads((run.report_dir / "report.json").read_text())
    assert {(a["model"], a["arm"]) for a in data["arms"]} == set(arms)


def test_the_cost_budget_stops_every_worker_and_matches_the_recorded_usage(locust_run: Any) -> None:
    run = locust_run(
        "--processes", "2", *private_master_port(), "-u", "4", "-r", "4", "--turns", "60", "--run-time", "4m", *FAST,
        "--max-cost", "0.05",
        timeout=240,
    )  # fmt: skip
    assert run.returncode == 3, run.stderr[-3000:]
    said = [line for line in run.stderr.splitlines() if "s2s: the --max-cost budget of 0.05 USD was reached" in line]
    assert len(said) == 1 and "every worker was stopped" in said[0], run.stderr[-3000:]
    sessions = run.sessions()
    assert {s["worker"] for s in sessions} == {"worker-0", "worker-1"}
    assert all(s["outcome"] in ("stopped", "failed", "completed") for s in sessions)
    # By hand: every response's usage at the built-in list prices adds up to the report's estimate.
    by_hand = 0.0
    for session in sessions:
        prices = DEFAULT_TABLE.for_model(session["model"])
        for turn in session["turns"]:
            usage = Usage(**{name: turn[name] for name in Usage.__dataclass_fields__})
            by_hand += prices.cost_usd(usage)
    report = json.loads((run.report_dir / "report.json").read_text())
    total = sum(row["cost_usd"] for row in report["costs"])
    assert total == pytest.approx(by_hand, abs=1e-5)
    assert by_hand >= 0.05
    junit = (run.report_dir / "junit.xml").read_text()
    assert "--max-cost" in junit and "failure" in junit
