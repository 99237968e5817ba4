"""Reading a run folder's sessions.jsonl and writing report.md, report.html and report.json beside it."""

from __future__ import annotations

import json
from pathlib import Path

from s2s_users.exceptions import ConfigError
from s2s_users.metrics.records import SESSIONS_FILE, SessionRecord
from s2s_users.reporting.html import render_html
from s2s_users.reporting.render import render_markdown
from s2s_users.reporting.summary import Report, build_report, report_to_dict


def load_sessions(run_dir: Path) -> list[SessionRecord]:
    path = run_dir / SESSIONS_FILE
    if not path.is_file():
        raise ConfigError(f"{path} not found: pass a run folder written by an s2s_users run")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(SessionRecord.from_dict(json.loads(line)))
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"{path} line {number} is not a session record: {exc}") from exc
    return records


def write_report(run_dir: Path, records: list[SessionRecord] | None = None) -> Report:
    """Write report.md/.html/.json from ``records`` (default: the folder's sessions.jsonl) and return the report."""
    records = load_sessions(run_dir) if records is None else records
    report = build_report(records)
    (run_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (run_dir / "report.html").write_text(render_html(report, records), encoding="utf-8")
    (run_dir / "report.json").write_text(
        json.dumps(report_to_dict(report), indent=2, allow_nan=False), encoding="utf-8"
    )
    return report
