"""python -m s2s_users.reporting RUN_DIR: (re)write report.md, report.html and report.json from sessions.jsonl."""

from __future__ import annotations

import sys
from pathlib import Path

from s2s_users.exceptions import ConfigError
from s2s_users.reporting.files import write_report
from s2s_users.reporting.render import render_text


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m s2s_users.reporting RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(args[0])
    try:
        report = write_report(run_dir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render_text(report))
    print(f"\nwrote {run_dir / 'report.html'}, {run_dir / 'report.md'} and {run_dir / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
