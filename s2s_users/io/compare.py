"""``python -m s2s_users compare RUN_A RUN_B [--out FILE]``: two run folders side by side (text and HTML)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.reporting.compare import Run, render_html, render_text
from s2s_users.core.reporting.summary import build_report
from s2s_users.io.reports import load_sessions


def load_run(label: str, folder: Path) -> Run:
    records = load_sessions(folder)
    return Run(label, folder.name or str(folder), build_report(records), records)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2s_users compare", description=__doc__)
    parser.add_argument("run_a", type=Path, help="a run folder (with sessions.jsonl)")
    parser.add_argument("run_b", type=Path, help="another run folder")
    parser.add_argument("--out", type=Path, default=None, help="the HTML page (default: compare.html in RUN_B)")
    args = parser.parse_args(argv)
    try:
        a, b = load_run("A", args.run_a), load_run("B", args.run_b)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or args.run_b / "compare.html"
    out.write_text(render_html(a, b), encoding="utf-8")
    print(render_text(a, b))
    print(f"\nwrote {out}")
    return 0
