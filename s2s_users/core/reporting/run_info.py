"""What a report says about the run itself: options, versions, times, users, target and the generator's health.

A team files a report with a ticket; whoever reads it later must see how the run was made (no secrets: the
options come without secret ones, URLs without credentials) and whether the load generator itself could be
trusted (pacing lag, CPU, lost workers). The record owner writes it to ``run.json`` beside ``sessions.jsonl``, so
``python -m s2s_users report RUN_DIR`` rewrites the same header.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.reporting.summary import percentile

RUN_FILE = "run.json"
#: Pacing lag (p95) above which the generator was too busy: its numbers are not to be trusted.
PACING_LAG_LIMIT_MS = 20.0
#: CPU (per process, 100 = one core) above which Locust itself warns that a process is overloaded.
CPU_LIMIT_PERCENT = 90.0


@dataclass(frozen=True, slots=True)
class GeneratorHealth:
    """How the load generator fared: if it was overloaded, what it measured is suspect."""

    pacing_lag_p50_ms: float | None = None
    pacing_lag_p95_ms: float | None = None
    pacing_lag_max_ms: float | None = None
    cpu_max_percent: dict[str, float] = field(default_factory=dict)
    lost_workers: int = 0
    lost_sessions: int = 0
    user_exceptions: int = 0
    incidents: tuple[str, ...] = ()
    """What else went wrong around the measurement, one line each (the preflight's warning, InfluxDB behind)."""

    def warnings(self) -> list[str]:
        notes = []
        if self.pacing_lag_p95_ms is not None and self.pacing_lag_p95_ms > PACING_LAG_LIMIT_MS:
            notes.append(f"pacing lag p95 {self.pacing_lag_p95_ms:.1f} ms: the generator sent late; add workers")
        busy = [f"{node} {cpu:.0f}%" for node, cpu in sorted(self.cpu_max_percent.items()) if cpu > CPU_LIMIT_PERCENT]
        if busy:
            notes.append(f"CPU above {CPU_LIMIT_PERCENT:.0f}% ({', '.join(busy)}): add workers")
        if self.lost_workers:
            notes.append(f"{self.lost_workers} workers lost ({self.lost_sessions} sessions)")
        notes.extend(self.incidents)
        return notes


@dataclass(frozen=True, slots=True)
class PromptFile:
    """One file of the prompt folder the run played, with its hash: the prompt manifest of the run."""

    file: str
    sha256: str
    bytes: int


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    started_at: float | None = None
    ended_at: float | None = None
    users: int = 0
    target: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    health: GeneratorHealth = field(default_factory=GeneratorHealth)
    prompts_dir: str = ""
    prompts: tuple[PromptFile, ...] = ()
    """Every file of the prompt folder (audio and manifest) with its sha256."""
    mock_scenario: str | None = None
    """The embedded mock's scenario file as copied into the run folder (None: the built-in profiles, or no mock)."""
    mock_scenario_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunInfo:
        names = {f.name for f in dataclasses.fields(GeneratorHealth)}
        fields = {k: v for k, v in dict(data.get("health") or {}).items() if k in names}
        fields["incidents"] = tuple(str(note) for note in fields.get("incidents") or ())
        health = GeneratorHealth(**fields)
        return cls(
            run_id=str(data.get("run_id", "")),
            started_at=data.get("started_at"),
            ended_at=data.get("ended_at"),
            users=int(data.get("users", 0)),
            target=str(data.get("target", "")),
            options=dict(data.get("options") or {}),
            versions={str(k): str(v) for k, v in dict(data.get("versions") or {}).items()},
            health=health,
            prompts_dir=str(data.get("prompts_dir", "")),
            prompts=tuple(
                PromptFile(str(p["file"]), str(p["sha256"]), int(p.get("bytes", 0))) for p in data.get("prompts") or ()
            ),
            mock_scenario=data.get("mock_scenario"),
            mock_scenario_sha256=data.get("mock_scenario_sha256"),
        )


def pacing_lags(records: Sequence[SessionRecord]) -> tuple[float | None, float | None, float | None]:
    """p50, p95 and max of every turn's pacing lag."""
    lags = [turn.pacing_lag_ms for record in records for turn in record.turns]
    return percentile(lags, 50), percentile(lags, 95), max(lags) if lags else None


def with_pacing(health: GeneratorHealth, records: Sequence[SessionRecord]) -> GeneratorHealth:
    p50, p95, worst = pacing_lags(records)
    return dataclasses.replace(health, pacing_lag_p50_ms=p50, pacing_lag_p95_ms=p95, pacing_lag_max_ms=worst)


def _when(epoch: float | None) -> str:
    return "?" if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def header_rows(info: RunInfo) -> list[tuple[str, str]]:
    """The report's header as (label, value) rows: the same in report.md, report.html and the terminal."""
    health = info.health
    duration = (
        f" ({(info.ended_at - info.started_at) / 60:.1f} min)"
        if info.started_at is not None and info.ended_at is not None
        else ""
    )
    cpu = ", ".join(f"{node} {value:.0f}%" for node, value in sorted(health.cpu_max_percent.items())) or "—"
    options = ", ".join(f"{name}={value}" for name, value in sorted(info.options.items()) if value not in (None, ""))
    rows = [
        ("Run", info.run_id),
        ("Started / ended", f"{_when(info.started_at)} / {_when(info.ended_at)}{duration}"),
        ("Users (peak)", str(info.users)),
        ("Target", info.target or "—"),
        ("Versions", ", ".join(f"{name} {version}" for name, version in info.versions.items()) or "—"),
        (
            "Generator health",
            f"pacing lag p50 {_ms(health.pacing_lag_p50_ms)}, p95 {_ms(health.pacing_lag_p95_ms)}, max "
            f"{_ms(health.pacing_lag_max_ms)}; CPU max {cpu}; {health.lost_workers} workers lost, "
            f"{health.lost_sessions} sessions lost; {health.user_exceptions} exceptions",
        ),
        ("Options", options or "—"),
    ]
    if info.prompts:
        rows.append(("Prompts", f"{info.prompts_dir}: {len(info.prompts)} files, sha256 in run.json"))
    if info.mock_scenario is not None:
        rows.append(("Mock scenario", f"{info.mock_scenario} (sha256 {info.mock_scenario_sha256})"))
    rows += [("Warning", note) for note in health.warnings()]
    return rows
