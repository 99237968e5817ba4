"""Per-turn and per-session records: frozen dataclasses with a stable JSON shape.

These are what ``sessions.jsonl`` holds (one ``SessionRecord.to_dict()`` per line), what workers ship to the
master, what InfluxDB points and reports are computed from. Add fields with defaults so old files still load.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: Session outcomes. ``expired`` is the provider's session cap: censored, like ``stopped``; ``lost`` is a session
#: whose worker died, censored at the worker's last report.
OUTCOMES = ("completed", "failed", "stopped", "expired", "lost")


@dataclass(frozen=True, slots=True)
class SessionLabels:
    """What a session's records are grouped by (InfluxDB tags, report rows): low cardinality only."""

    run_id: str
    model: str
    provider: str
    voice: str
    turn_mode: str
    scenario: str
    worker: str


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One turn: the user's prompt went in, and what came back.

    Times are milliseconds from the end of the user's audio (commit in manual mode, last prompt chunk in
    server-VAD mode). ``outcome`` is ``"ok"`` or a ``FailureClass`` code.
    """

    turn: int
    prompt_id: str
    outcome: str
    input_audio_s: float
    assistant_audio_s: float
    audio_bytes: int
    ttfa_ms: float | None
    response_ms: float | None
    pacing_lag_ms: float
    started_at: float
    response_status: str | None = None
    detail: str | None = None
    peak_dbfs: float | None = None
    transcript_chars: int = 0
    text_chars: int = 0
    context_truncated: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    cached_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0
    ended_at: float | None = None
    """When the turn ended (epoch seconds): its response's end, or the failure that ended it."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnRecord:
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One realtime session from connect to end.

    ``capacity_to_failure_s`` is the assistant audio accumulated before the first failing turn (all of it,
    and ``censored`` True, when no failure happened); ``capacity_to_silent_failure_s`` is the same measured to
    the first *silent* failure, censored when there was none. ``failure_class`` is the first failure;
    ``end_class`` is what ended the session (they differ in the seed's case: a zero-audio turn, then a drop).
    """

    session_id: str
    run_id: str
    model: str
    provider: str
    voice: str
    turn_mode: str
    scenario: str
    worker: str
    started_at: float
    ended_at: float
    turns_planned: int
    turns_completed: int
    assistant_audio_s: float
    capacity_to_failure_s: float
    censored: bool
    capacity_to_silent_failure_s: float
    silent_censored: bool
    outcome: str
    failure_class: str | None
    failure_turn: int | None
    failure_detail: str | None
    silent_failure_turn: int | None
    visible_failure_turn: int | None
    end_class: str | None
    close_code: int | None
    close_reason: str | None
    close_frame_received: bool | None
    context_truncations: int = 0
    legacy_events: int = 0
    unknown_events: dict[str, int] = field(default_factory=dict)
    estimated_cost_usd: float = 0.0
    turns: tuple[TurnRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "turns"}
        data["unknown_events"] = dict(self.unknown_events)
        data["turns"] = [turn.to_dict() for turn in self.turns]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionRecord:
        known = _known_fields(cls, data)
        known["turns"] = tuple(TurnRecord.from_dict(turn) for turn in data.get("turns", ()))
        return cls(**known)


def _known_fields(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    # Unknown keys are dropped so that files written by newer versions still load.
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in data.items() if key in names}
