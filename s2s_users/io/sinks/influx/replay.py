"""Replay a spool left on disk to InfluxDB::

S2S_INFLUX_TOKEN=... python -m s2s_users replay DIR --url URL --org ORG --bucket BUCKET
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from s2s_users.io.sinks.influx.settings import ENV_BUCKET, ENV_ORG, ENV_TOKEN, ENV_URL
from s2s_users.io.sinks.influx.writer import InfluxWriter, WriteFailed
from s2s_users.io.sinks.spool import Spool, spool_dirs


@dataclass(frozen=True, slots=True)
class ReplayResult:
    written: int
    remaining: int
    error: str | None


def replay(directory: Path, writer: InfluxWriter, batch_size: int = 5000) -> ReplayResult:
    """Write every spooled segment under ``directory`` (a spool or a run's tree), oldest first per folder."""
    written = 0
    error: str | None = None
    folders = list(spool_dirs(directory))
    for folder in folders:
        spool = Spool(folder, max_bytes=1 << 62)
        while error is None and (segment := spool.oldest()) is not None:
            lines = segment.read_lines()
            try:
                for start in range(0, len(lines), batch_size):
                    writer.write(lines[start : start + batch_size])
            except WriteFailed as failure:
                error = failure.reason
                break
            written += len(lines)
            spool.remove(segment)
    remaining = sum(Spool(folder, max_bytes=1 << 62).points for folder in folders)
    return ReplayResult(written, remaining, error)


def main(argv: Sequence[str] | None = None) -> int:
    replay_parser = argparse.ArgumentParser(
        prog="python -m s2s_users replay", description="write the points of a spool directory to InfluxDB"
    )
    replay_parser.add_argument("directory", type=Path, help="a spool directory, or a folder of them")
    replay_parser.add_argument("--url", default=os.environ.get(ENV_URL), help=f"InfluxDB URL (${ENV_URL})")
    replay_parser.add_argument(
        "--token", default=os.environ.get(ENV_TOKEN, ""), help=f"token, 1.8: user:password (${ENV_TOKEN})"
    )
    replay_parser.add_argument("--org", default=os.environ.get(ENV_ORG, ""), help=f"org (${ENV_ORG})")
    replay_parser.add_argument("--bucket", default=os.environ.get(ENV_BUCKET), help=f"bucket (${ENV_BUCKET})")
    replay_parser.add_argument("--batch-size", type=int, default=5000)
    args = replay_parser.parse_args(argv)
    if not args.url or not args.bucket:
        replay_parser.error(f"--url and --bucket are required (or ${ENV_URL} and ${ENV_BUCKET})")
    if not args.directory.is_dir():
        print(f"influx replay: {args.directory} is not a directory", file=sys.stderr)
        return 2
    writer = InfluxWriter(args.url, args.token, args.org, args.bucket)
    try:
        result = replay(args.directory, writer, args.batch_size)
    finally:
        writer.close()
    if result.error is not None:
        print(
            f"influx replay: {result.written} points written, stopped by {result.error};"
            f" {result.remaining} points remain in {args.directory}: run again when InfluxDB answers",
            file=sys.stderr,
        )
        return 1
    print(f"influx replay: {result.written} points written to {args.bucket} from {args.directory}")
    return 0
