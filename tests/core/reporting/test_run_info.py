"""The report's header: the run's description survives run.json, says how the generator fared, warns when not."""

from __future__ import annotations

import json

from s2s_users.core.reporting.render import render_markdown, render_text
from s2s_users.core.reporting.run_info import GeneratorHealth, PromptFile, RunInfo, header_rows, with_pacing
from s2s_users.core.reporting.summary import build_report
from tests.core.reporting.test_summary import seed_records

INFO = RunInfo(
    run_id="run-7",
    started_at=1_800_000_000.0,
    ended_at=1_800_000_600.0,
    users=4,
    target="wss://api.example/v1/realtime?key=***",
    options={"turns": 60, "s2s_model": "a:3,b:1", "check_ttfa_p95_ms": None},
    versions={"python": "3.11.2", "s2s_users": "0.1.0", "locust": "2.47.0"},
    health=GeneratorHealth(cpu_max_percent={"local": 35.0}, lost_workers=0),
    prompts_dir="/prompts",
    prompts=(PromptFile("p1.wav", "ab" * 32, 4_800),),
    mock_scenario="mock-scenario.toml",
    mock_scenario_sha256="cd" * 32,
)


def test_run_info_round_trips_through_json() -> None:
    assert RunInfo.from_dict(json.loads(json.dumps(INFO.to_dict()))) == INFO


def test_the_header_names_the_prompts_and_the_scenario_kept_to_repeat_the_run() -> None:
    rows = dict(header_rows(INFO))
    assert rows["Prompts"] == "/prompts: 1 files, sha256 in run.json"
    assert rows["Mock scenario"] == f"mock-scenario.toml (sha256 {'cd' * 32})"


def test_the_header_names_times_users_target_versions_health_and_given_options() -> None:
    rows = dict(header_rows(INFO))
    assert rows["Run"] == "run-7"
    assert rows["Started / ended"] == "2027-01-15 08:00:00 UTC / 2027-01-15 08:10:00 UTC (10.0 min)"
    assert rows["Users (peak)"] == "4" and rows["Target"].endswith("?key=***")
    assert rows["Versions"] == "python 3.11.2, s2s_users 0.1.0, locust 2.47.0"
    assert "CPU max local 35%" in rows["Generator health"]
    assert rows["Options"] == "s2s_model=a:3,b:1, turns=60"  # options that are not set are left out
    assert "Warning" not in rows


def test_pacing_lag_comes_from_the_turns_and_an_overloaded_generator_is_flagged() -> None:
    health = with_pacing(GeneratorHealth(cpu_max_percent={"worker-1": 97.0}), seed_records())
    assert health.pacing_lag_p50_ms is not None and health.pacing_lag_max_ms is not None
    busy = GeneratorHealth(pacing_lag_p95_ms=45.0, cpu_max_percent={"worker-1": 97.0}, lost_workers=1, lost_sessions=3)
    notes = busy.warnings()
    assert notes == [
        "pacing lag p95 45.0 ms: the generator sent late; add workers",
        "CPU above 90% (worker-1 97%): add workers",
        "1 workers lost (3 sessions)",
    ]
    info = RunInfo(run_id="r", health=busy)
    report = build_report(seed_records())
    assert "| Warning | CPU above 90% (worker-1 97%): add workers |" in render_markdown(report, info)
    assert "s2s: warning: pacing lag p95 45.0 ms" in render_text(report, info)


def test_incidents_around_the_run_are_warnings_and_survive_run_json() -> None:
    note = "InfluxDB at http://127.0.0.1:9 never answered: 8 points spooled (replay them later)"
    info = RunInfo(run_id="run-8", health=GeneratorHealth(incidents=(note,)))
    assert RunInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    assert ("Warning", note) in header_rows(info)
    assert f"s2s: warning: {note}" in render_text(build_report(seed_records(), {}), info)
