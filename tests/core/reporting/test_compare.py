"""Two runs side by side: every model of either run, A's numbers above B's, both runs' curves on one plot."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from s2s_users.core.reporting.compare import Run, render_html, render_text, side_by_side
from s2s_users.core.reporting.summary import build_report
from s2s_users.io.reports import write_report
from s2s_users.io.sinks.files import JsonlSessionSink
from tests.core.reporting.test_summary import seed_records, session

ROOT = Path(__file__).resolve().parents[3]


def runs() -> tuple[Run, Run]:
    a_records = seed_records()
    b_records = [session("gpt-realtime-2", [10.0] * 40, fail_at=25), session("gpt-realtime-mini", [4.0] * 10)]
    return (
        Run("A", "before", build_report(a_records), a_records),
        Run("B", "after", build_report(b_records), b_records),
    )


def test_the_table_pairs_each_models_numbers_and_marks_what_a_run_lacks() -> None:
    header, rows = side_by_side(*runs())
    assert header[0] == "Model" and "Capacity to silent failure" in header
    names = [row[0] for row in rows]
    assert names == [
        "gpt-realtime (A)", "gpt-realtime (B)", "gpt-realtime-2 (A)", "gpt-realtime-2 (B)",
        "gpt-realtime-mini (A)", "gpt-realtime-mini (B)",
    ]  # fmt: skip
    capacity = header.index("Capacity to silent failure")
    assert rows[2][capacity] == "5.00 min" and rows[3][capacity] == "4.00 min"
    assert rows[0][capacity] == "more than 3.00 min (lower bound)"  # every session censored at 3 minutes
    assert set(rows[1][1:]) == {"—"}  # run B has no gpt-realtime sessions
    text = render_text(*runs())
    assert text.startswith("A = before\nB = after")


def test_the_page_draws_both_runs_curves() -> None:
    page = render_html(*runs())
    for gid in ("survival-A: gpt-realtime-2", "survival-B: gpt-realtime-2", "survival-B: gpt-realtime-mini"):
        assert f'id="{gid}"' in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")


def test_the_command_compares_two_run_folders(tmp_path: Path) -> None:
    for name, records in (("run-a", seed_records()), ("run-b", [dataclasses.replace(seed_records()[1])])):
        sink = JsonlSessionSink(tmp_path / name)
        for record in records:
            sink.write_session(record)
        sink.close()
        write_report(tmp_path / name)
    done = subprocess.run(
        [sys.executable, "-m", "s2s_users", "compare", str(tmp_path / "run-a"), str(tmp_path / "run-b"),
         "--out", str(tmp_path / "cmp.html")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "gpt-realtime-2 (B)" in done.stdout and f"wrote {tmp_path / 'cmp.html'}" in done.stdout
    assert "survival-A: gpt-realtime" in (tmp_path / "cmp.html").read_text()
    missing = subprocess.run(
        [sys.executable, "-m", "s2s_users", "compare", str(tmp_path / "run-a"), str(tmp_path / "nope")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 2 and "sessions.jsonl not found" in missing.stderr
