"""report.html: self-contained, carries the report's numbers and the plots, and writes the same bytes twice."""

from __future__ import annotations

import json
import re
from pathlib import Path

from s2s_users.core.reporting.html import render_html
from s2s_users.core.reporting.summary import build_report
from s2s_users.io.reports import write_report
from tests.core.reporting.test_summary import seed_records


def _run_dir(tmp_path: Path) -> Path:
    lines = "".join(json.dumps(record.to_dict()) + "\n" for record in seed_records())
    (tmp_path / "sessions.jsonl").write_text(lines)
    return tmp_path


def test_the_page_holds_the_seed_table_the_taxonomy_and_four_plots() -> None:
    records = seed_records()
    page = render_html(build_report(records), records)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "gpt-realtime-2" in page and "5.00 min (95% CI" in page  # the seed-style capacity cell
    assert "64 / 120" in page  # turns completed / planned for gpt-realtime-2
    assert page.count("<svg") == 4
    assert '<tr class="silent"><td>response.zero_audio</td>' in page
    assert "Turn budget: gpt-realtime-2" in page and "about 30" in page


def test_the_page_references_nothing_outside_itself() -> None:
    records = seed_records()
    page = render_html(build_report(records), records)
    links = set(re.findall(r"https?://[^\"' )]+", page))
    assert links <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, links
    assert "<script" not in page


def test_writing_the_report_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    write_report(run_dir)
    first = (run_dir / "report.html").read_bytes()
    write_report(run_dir)
    assert (run_dir / "report.html").read_bytes() == first
    assert (run_dir / "report.md").is_file() and (run_dir / "report.json").is_file()
