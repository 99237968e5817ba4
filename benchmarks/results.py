"""Where every benchmark leaves its numbers: a printed table, and results/<name>.json and .md beside this file."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from s2s_users.core.reporting import render

RESULTS = Path(__file__).resolve().parent / "results"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    return "\n".join(render.markdown_table(header, rows))


def publish(
    name: str,
    title: str,
    table: str,
    conclusion: str,
    rows: Sequence[Any],
    params: dict[str, Any],
    out: Path = RESULTS,
    notes: str = "",
) -> None:
    """Print the table and the conclusion; write the results with the machine and the parameters to ``out``
    (``results/`` by default: a smoke test writes elsewhere; ``notes``: more for the Markdown copy, such as the
    command line)."""
    print(table)
    print()
    print(conclusion)
    meta = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        **params,
    }
    payload = {"meta": meta, "rows": [dataclasses.asdict(row) for row in rows], "conclusion": conclusion}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    more = f"\n{notes}\n" if notes else ""
    (out / f"{name}.md").write_text(
        f"# {title} ({meta['date']}, {meta['cpus']} CPUs)\n\n{table}\n\n{conclusion}\n{more}"
    )
