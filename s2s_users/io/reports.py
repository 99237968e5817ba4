"""Reading a run folder (sessions.jsonl, run.json, pacing.json) and writing report.md, report.html and report.json
beside it."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.metrics.lag import PACING_FILE, LagHistogram
from s2s_users.core.metrics.records import SESSIONS_FILE, SessionRecord
from s2s_users.core.reporting.html import render_html
from s2s_users.core.reporting.render import render_markdown, render_text
from s2s_users.core.reporting.run_info import RUN_FILE, RunInfo
from s2s_users.core.reporting.summary import Report, build_report, report_to_dict


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


def load_run_info(run_dir: Path) -> RunInfo | None:
    """The run's ``run.json`` (written at the end of a run), or None for a folder without one."""
    path = run_dir / RUN_FILE
    if not path.is_file():
        return None
    try:
        return RunInfo.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path} is not a run description: {exc}") from exc


def write_run_info(run_dir: Path, info: RunInfo) -> None:
    write_whole(run_dir / RUN_FILE, json.dumps(info.to_dict(), indent=2, allow_nan=False))


def write_pacing(run_dir: Path, pacing: Mapping[str, LagHistogram]) -> None:
    """Each worker's chunk-lag histogram, beside the sessions (the report is rebuilt from both)."""
    data = {"workers": {worker: histogram.to_wire() for worker, histogram in sorted(pacing.items())}}
    write_whole(run_dir / PACING_FILE, json.dumps(data) + "\n")


def load_pacing(run_dir: Path) -> dict[str, LagHistogram]:
    """The run's pacing figures; none for a folder without them (written by an older version)."""
    path = run_dir / PACING_FILE
    if not path.is_file():
        return {}
    try:
        workers = json.loads(path.read_text(encoding="utf-8"))["workers"]
        return {str(worker): LagHistogram.from_wire(data) for worker, data in workers.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ConfigError(f"{path} is not a pacing file: {exc}") from exc


def write_report(
    run_dir: Path,
    records: list[SessionRecord] | None = None,
    info: RunInfo | None = None,
    pacing: Mapping[str, LagHistogram] | None = None,
) -> Report:
    """Write report.md/.html/.json from ``records`` and ``pacing`` (default: the folder's sessions.jsonl and
    pacing.json) and return the report. ``info`` (default: the folder's run.json, if any) heads each report."""
    records = load_sessions(run_dir) if records is None else records
    info = load_run_info(run_dir) if info is None else info
    report = build_report(records, load_pacing(run_dir) if pacing is None else pacing)
    write_report_files(run_dir, report, records, info)
    return report


REPORT_FILES = ("report.md", "report.html", "report.json")


def write_report_files(run_dir: Path, report: Report, records: list[SessionRecord], info: RunInfo | None) -> None:
    """report.md, report.html and report.json; a file that cannot be written whole is removed (``OSError``)."""
    data = {"run": None if info is None else info.to_dict(), **report_to_dict(report)}
    texts = {
        "report.md": lambda: render_markdown(report, info),
        "report.html": lambda: render_html(report, records, info),
        "report.json": lambda: json.dumps(data, indent=2, allow_nan=False),
    }
    for name in REPORT_FILES:
        write_whole(run_dir / name, texts[name]())


def write_whole(path: Path, text: str) -> None:
    """``text`` in ``path``, or no ``path`` at all: never a truncated file that looks like a report."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        raise


def main(argv: list[str]) -> int:
    """``python -m s2s_users report RUN_DIR``: (re)write report.md, report.html and report.json."""
    if len(argv) != 1:
        print("usage: python -m s2s_users report RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    try:
        report = write_report(run_dir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render_text(report))
    print(f"\nwrote {run_dir / 'report.html'}, {run_dir / 'report.md'} and {run_dir / 'report.json'}")
    return 0
