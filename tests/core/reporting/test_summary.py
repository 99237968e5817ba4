"""The seed's tables from hand-made session records."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.lag import LagHistogram
from s2s_users.core.metrics.records import SessionRecord, TurnRecord
from s2s_users.core.reporting.html import render_html
from s2s_users.core.reporting.render import render_markdown, render_text
from s2s_users.core.reporting.summary import build_report, report_to_dict
from s2s_users.io.reports import load_pacing, load_sessions, write_pacing, write_report
from tests.support.records import session as make_session
from tests.support.records import turn as make_turn
from tests.support.records import with_changes


def session(model: str, audio: list[float], fail_at: int | None = None, planned: int = 60) -> SessionRecord:
    turns = [dataclasses.replace(make_turn(i + 1), assistant_audio_s=a) for i, a in enumerate(audio)]
    if fail_at is None:
        total = sum(audio)
        return with_changes(
            make_session(), model=model, turns=tuple(turns), turns_planned=planned, turns_completed=len(turns),
            assistant_audio_s=total, capacity_to_failure_s=total, capacity_to_silent_failure_s=total,
        )  # fmt: skip
    before = sum(audio[: fail_at - 1])
    failed: list[TurnRecord] = [
        dataclasses.replace(make_turn(fail_at), outcome="response.zero_audio", assistant_audio_s=0.0),
        dataclasses.replace(make_turn(fail_at + 1), outcome="transport.closed_no_frame", assistant_audio_s=0.0),
    ]
    return with_changes(
        make_session(), model=model, turns=tuple(turns[: fail_at - 1] + failed), turns_planned=planned,
        turns_completed=fail_at - 1, assistant_audio_s=before, capacity_to_failure_s=before, censored=False,
        capacity_to_silent_failure_s=before, silent_censored=False, outcome="failed",
        failure_class="response.zero_audio", failure_turn=fail_at, silent_failure_turn=fail_at,
        end_class="transport.closed_no_frame",
    )  # fmt: skip


def seed_records() -> list[SessionRecord]:
    return [
        session("gpt-realtime", [6.0] * 30, planned=30),
        session("gpt-realtime-2", [10.0] * 40, fail_at=31),
        session("gpt-realtime-2", [9.0] * 40, fail_at=35),
    ]


def test_the_seed_table_numbers() -> None:
    report = build_report(seed_records())
    healthy, failing = report.models
    assert (healthy.turns_completed, healthy.turns_planned) == (30, 30)
    assert healthy.median_turn_audio_s == 6.0 and healthy.silent_capacity_median_s is None
    assert failing.turns_completed == 64 and failing.silent_failure_sessions == 2
    assert failing.silent_capacity_median_s == 300.0  # KM median over 300 and 306
    assert failing.total_audio_min == pytest.approx((300 + 306) / 60)
    assert dict(report.budgets["gpt-realtime-2"])[10] == 30


def test_each_model_says_whether_its_capacity_is_measured_or_a_lower_bound_and_on_how_many_sessions() -> None:
    bounded = with_changes(session("gpt-realtime", [6.0] * 20, planned=0), outcome="bounded")
    report = build_report([*seed_records(), bounded])
    healthy, failing = report.models
    assert str(healthy.capacity_basis) == "lower bound" and healthy.bounded_sessions == 1
    assert healthy.silent_capacity_lower_bound_s == 150.0  # the median of 180 and 120 s reached
    assert str(failing.capacity_basis) == "measured"
    markdown, text = render_markdown(report), render_text(report)
    assert (
        "| gpt-realtime | more than 2.50 min | lower bound | 2 sessions, 0 failed silently (2 censored, 1 ended "
        in (markdown)
    )
    assert "| gpt-realtime-2 | 5.00 min | measured | 2 of 2 sessions failed silently (0 censored) |" in markdown
    assert "## Turn budget: gpt-realtime-2, from the measured boundary (2 of 2 sessions failed silently)" in markdown
    assert "gpt-realtime: more than 2.50 min, lower bound" in text
    assert [m["capacity_basis"] for m in report_to_dict(report)["models"]] == ["lower bound", "measured"]
    assert "gpt-realtime" not in report.budgets


def test_failed_sessions_are_listed_with_links_to_their_evidence() -> None:
    files = ("evidence/sess_1/flight.jsonl", "evidence/sess_1/turn-031-assistant.wav")
    failed = with_changes(seed_records()[1], session_id="sess_1", evidence=files, evidence_note="disk full")
    failed = SessionRecord.from_dict(json.loads(json.dumps(failed.to_dict())))  # as sessions.jsonl keeps it
    report = build_report([seed_records()[0], failed])
    assert report.failed_sessions == 1 and report.failed[0].evidence == files
    markdown = render_markdown(report)
    assert "| sess_1 | gpt-realtime-2 | response.zero_audio | 31 | 5.00 min | transport.closed_no_frame | " in markdown
    assert "[flight](evidence/sess_1/flight.jsonl), [turn 31 assistant](evidence/sess_1/turn-031-assistant.wav)" in (
        markdown
    )
    page = render_html(report, [failed])
    assert '<a href="evidence/sess_1/turn-031-assistant.wav">turn 31 assistant</a> (disk full)' in page


def test_the_taxonomy_lists_every_code_with_counts() -> None:
    rows = {t.code: t for t in build_report(seed_records()).taxonomy}
    assert len(rows) == len(FailureClass)
    assert (rows["response.zero_audio"].turns, rows["response.zero_audio"].first_failures) == (2, 2)
    assert rows["transport.closed_no_frame"].session_ends == 2 and rows["transport.closed_no_frame"].silent


def test_renderings_hold_the_rows_and_the_dict_is_json_safe() -> None:
    report = build_report(seed_records())
    markdown = render_markdown(report)
    assert "| gpt-realtime | 30 / 30 | 6.00 s | 6.00 s | 3.00 min | not reached (censored) | 0 / 1 |" in markdown
    assert "5.00 min" in render_text(report)
    json.dumps(report_to_dict(report), allow_nan=False)


def test_write_report_round_trip_and_cli(tmp_path: Path) -> None:
    lines = [json.dumps(r.to_dict()) for r in seed_records()]
    (tmp_path / "sessions.jsonl").write_text("\n".join(lines) + "\n")
    assert load_sessions(tmp_path) == seed_records()
    write_report(tmp_path)
    assert (tmp_path / "report.md").exists() and (tmp_path / "report.json").exists()
    done = subprocess.run([sys.executable, "-m", "s2s_users", "report", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0 and "gpt-realtime-2" in done.stdout


def test_a_bad_line_or_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_sessions(tmp_path)
    (tmp_path / "sessions.jsonl").write_text("{}\nnot json\n")
    with pytest.raises(ConfigError, match="line 1"):
        load_sessions(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "s2s_users", "report", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith("error:")


def _lags(*lags_ms: float) -> LagHistogram:
    histogram = LagHistogram()
    for lag in lags_ms:
        histogram.add(lag / 1000)
    return histogram


def test_the_report_gives_each_workers_chunk_lag_and_warns_when_the_generator_was_late() -> None:
    kept = _lags(*[0.2] * 99, 3.0)
    report = build_report(seed_records(), {"worker-1": kept, "worker-2": _lags(*[0.2] * 90, *[35.0] * 10)})
    assert [row.worker for row in report.pacing] == ["all", "worker-1", "worker-2"]
    assert report.pacing[0].chunks == 200 and report.pacing[1].max_ms == pytest.approx(3.0)
    assert report.generator_late and report.late_workers == ("worker-2",)
    markdown, text = render_markdown(report), render_text(report)
    assert "fell behind on worker-2" in markdown and "## Load generator pacing" in markdown
    assert "| worker-1 | 100 | 0.2 ms |" in markdown
    assert "Pacing lag per prompt chunk: p50 0.2 ms" in text and "WARNING: the load generator fell behind" in text
    json.dumps(report_to_dict(report), allow_nan=False)

    calm = build_report(seed_records(), {"local": kept})
    assert not calm.generator_late and "fell behind" not in render_markdown(calm) + render_text(calm)
    assert build_report(seed_records()).pacing == ()  # a run folder without pacing.json (an older version)


def test_pacing_figures_are_kept_beside_the_sessions_and_the_report_is_rebuilt_from_both(tmp_path: Path) -> None:
    (tmp_path / "sessions.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in seed_records()))
    pacing = {"worker-1": _lags(0.1, 0.4, 60.0)}
    write_pacing(tmp_path, pacing)
    assert load_pacing(tmp_path) == pacing
    report = write_report(tmp_path)
    assert report.pacing[1].worker == "worker-1" and report.pacing[1].max_ms == pytest.approx(60.0)
    assert json.loads((tmp_path / "report.json").read_text())["pacing"][0]["chunks"] == 3
    (tmp_path / "pacing.json").write_text("[]")
    with pytest.raises(ConfigError, match="not a pacing file"):
        load_pacing(tmp_path)
