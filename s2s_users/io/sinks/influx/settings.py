"""Where and how the InfluxDB sink writes; the environment variables the tools read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ENV_URL = "S2S_INFLUX_URL"
ENV_TOKEN = "S2S_INFLUX_TOKEN"
ENV_ORG = "S2S_INFLUX_ORG"
ENV_BUCKET = "S2S_INFLUX_BUCKET"

REPLAY_COMMAND = "python -m s2s_users replay"


@dataclass(frozen=True)
class InfluxSettings:
    """Where and how to write. ``token`` never shows in ``repr``; ``spool_dir``: one per run and worker."""

    url: str
    token: str = field(repr=False)
    org: str
    bucket: str
    spool_dir: Path
    flush_interval_s: float = 1.0
    batch_size: int = 5000
    max_spool_bytes: int = 512 * 1024 * 1024
    close_deadline_s: float = 10.0
    request_timeout_s: float = 10.0
    max_backoff_s: float = 10.0
