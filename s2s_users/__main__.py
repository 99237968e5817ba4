"""``python -m s2s_users COMMAND``: the tools beside the load test.

    python -m s2s_users mock [--port 8765] [--scenario FILE] [--truth FILE] ...   the mock realtime server
    python -m s2s_users report RUN_DIR                                           report.html/md/json again
    python -m s2s_users compare RUN_A RUN_B [--out FILE]                         two runs side by side
    python -m s2s_users replay DIR --url URL --bucket B ...                      InfluxDB points left in a spool
    python -m s2s_users version                                                  versions, and which hot path runs

The load test itself runs under Locust: ``locust -f locustfiles/endurance.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

COMMANDS = ("mock", "report", "compare", "replay", "version")


def _print_versions(args: list[str]) -> int:
    from s2s_users.core.version import versions

    if args:
        print("usage: python -m s2s_users version", file=sys.stderr)
        return 2
    for name, version in versions().items():
        print(f"{name} {version}")
    return 0


def _command(name: str) -> Callable[[list[str]], int]:
    # Imported on demand: the mock must not pay for the reporting's imports, nor the other way round.
    if name == "mock":
        from s2s_users.io.mockserver import main as mock

        return mock
    if name == "report":
        from s2s_users.io.reports import main as report

        return report
    if name == "version":
        return _print_versions
    if name == "compare":
        from s2s_users.io.compare import main as compare

        return compare
    from s2s_users.io.sinks.influx.replay import main as replay

    return replay


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    return _command(args[0])(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
