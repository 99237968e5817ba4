"""The s2s_users Grafana dashboards, as code: ``python -m grafana.build`` writes grafana/dashboards/*.json.

Built with Grafana's own dashboards-as-code library (grafana-foundation-sdk, pinned to the Grafana 11.6 schema in
the ``dev`` extras); its generated builders type-check panels, options and variables. It has no InfluxDB query type,
so ``panels.InfluxQL`` is the one small query class it lacks. One module per dashboard (overview, session,
load_generator), their parts in ``panels``. Every query is raw InfluxQL: InfluxDB 1.8+, 2.x (through
the DBRP mapping the compose stack creates) and 3.x all serve it. ``--check`` exits 1 when the committed files
differ from what this script builds (the test suite runs it).

What the queries read (DESIGN §6): workers write ``s2s_turn`` and ``s2s_worker``; the master writes ``s2s_session``
(every session once, lost ones included), ``s2s_summary`` (per model, live then the report's final numbers),
``s2s_survival`` (the survival curve's corners, replaced at each refresh) and ``s2s_run`` (start/stop annotations).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from grafana.load_generator import load_generator
from grafana.overview import soak_overview
from grafana.panels import annotation
from grafana.session import session_drilldown

OUT = Path(__file__).resolve().parent / "dashboards"


DASHBOARDS = {
    "s2s-soak-overview.json": soak_overview,
    "s2s-session.json": session_drilldown,
    "s2s-load-generator.json": load_generator,
}


def render(build: Any) -> str:
    """The dashboard's JSON as committed: the SDK's encoding, plus the annotation it has no type for."""
    data = json.loads(json.dumps(build().build(), cls=JSONEncoder))
    data["annotations"] = {"list": [annotation()]}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = OUT / name
        text = render(build)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
            continue
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}: run python -m grafana.build", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
