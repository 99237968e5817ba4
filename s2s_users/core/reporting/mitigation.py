"""The report's answer to the seed's second question: does rotation avoid the silent failure, what does it cost in
latency and money, and would a warning have come in time? From session records only.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from s2s_users.core.metrics.records import OK, SessionRecord
from s2s_users.core.metrics.survival import kaplan_meier

#: How many ok turns the TTFA trend of a failed session compares: its first ones and its last ones.
TREND_TURNS = 5


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass(frozen=True, slots=True)
class ArmRow:
    """One model in one arm of an A/B run (``control``: no rotation; ``rotated``), or of a run that rotates."""

    model: str
    arm: str
    sessions: int
    turns_completed: int
    turns_planned: int
    silent_failure_sessions: int
    silent_capacity_median_s: float | None
    rotations: int
    ttfa_after_rotation_p50_ms: float | None
    """TTFA of the first turn of each fresh session: the latency cost of the mitigation."""
    ttfa_other_p50_ms: float | None
    reinjected_chars: int
    reinjected_tokens: int
    """Input text tokens billed (the summaries, as context of every later turn: the tester sends no other text)."""
    cost_usd: float


@dataclass(frozen=True, slots=True)
class WarningRow:
    """A session that failed silently: what was visible before, and how early the warning fired (if it did)."""

    model: str
    session_id: str
    failure_turn: int
    capacity_s: float
    warning_turn: int | None
    lead_turns: int | None
    lead_audio_s: float | None
    """Assistant audio between the warning and the failure: the room a mitigation had."""
    input_tokens_first: int
    input_tokens_before_failure: int
    ttfa_first_p50_ms: float | None
    ttfa_last_p50_ms: float | None
    unknown_events: int


@dataclass(frozen=True, slots=True)
class CostRow:
    model: str
    arm: str
    sessions: int
    turns: int
    cost_usd: float
    audio_min: float
    priced: bool = True
    """False when the price table had no price for the model: no estimate."""

    @property
    def per_audio_minute_usd(self) -> float | None:
        return self.cost_usd / self.audio_min if self.audio_min and self.priced else None


def _arm_row(model: str, arm: str, records: Sequence[SessionRecord]) -> ArmRow:
    turns = [t for r in records for t in r.turns if t.solicited]
    after = [t.ttfa_ms for t in turns if t.after_rotation and t.outcome == OK and t.ttfa_ms is not None]
    other = [t.ttfa_ms for t in turns if not t.after_rotation and t.outcome == OK and t.ttfa_ms is not None]
    silent = kaplan_meier([r.capacity_to_silent_failure_s for r in records], [not r.silent_censored for r in records])
    return ArmRow(
        model=model,
        arm=arm or "(all)",
        sessions=len(records),
        turns_completed=sum(r.turns_completed for r in records),
        turns_planned=sum(r.turns_planned for r in records),
        silent_failure_sessions=sum(r.silent_failure_turn is not None for r in records),
        silent_capacity_median_s=silent.median(),
        rotations=sum(r.rotations for r in records),
        ttfa_after_rotation_p50_ms=_median(after),
        ttfa_other_p50_ms=_median(other),
        reinjected_chars=sum(r.reinjected_chars for r in records),
        reinjected_tokens=sum(t.input_text_tokens for r in records for t in r.turns),
        cost_usd=sum(r.estimated_cost_usd for r in records),
    )


def arm_rows(records: Sequence[SessionRecord]) -> tuple[ArmRow, ...]:
    """Per model and arm, when the run has arms or rotated at all (empty otherwise: nothing to compare)."""
    if not any(r.arm or r.rotations for r in records):
        return ()
    groups: dict[tuple[str, str], list[SessionRecord]] = {}
    for record in records:
        groups.setdefault((record.model, record.arm), []).append(record)
    return tuple(_arm_row(model, arm, groups[(model, arm)]) for model, arm in sorted(groups))


def _warning_row(record: SessionRecord) -> WarningRow:
    assert record.silent_failure_turn is not None
    before = [t for t in record.turns if t.solicited and t.turn < record.silent_failure_turn]
    ok = [t for t in before if t.outcome == OK and t.ttfa_ms is not None]
    lead_turns = lead_audio = None
    if record.warning_turn is not None and record.warning_turn < record.silent_failure_turn:
        lead_turns = record.silent_failure_turn - record.warning_turn
        lead_audio = round(record.capacity_to_silent_failure_s - (record.warning_audio_s or 0.0), 3)
    return WarningRow(
        model=record.model,
        session_id=record.session_id,
        failure_turn=record.silent_failure_turn,
        capacity_s=record.capacity_to_silent_failure_s,
        warning_turn=record.warning_turn if lead_turns is not None else None,
        lead_turns=lead_turns,
        lead_audio_s=lead_audio,
        input_tokens_first=before[0].input_tokens if before else 0,
        input_tokens_before_failure=before[-1].input_tokens if before else 0,
        ttfa_first_p50_ms=_median([t.ttfa_ms for t in ok[:TREND_TURNS] if t.ttfa_ms is not None]),
        ttfa_last_p50_ms=_median([t.ttfa_ms for t in ok[-TREND_TURNS:] if t.ttfa_ms is not None]),
        unknown_events=sum(record.unknown_events.values()),
    )


def warning_rows(records: Sequence[SessionRecord]) -> tuple[WarningRow, ...]:
    return tuple(_warning_row(r) for r in records if r.silent_failure_turn is not None)


def cost_rows(records: Sequence[SessionRecord]) -> tuple[CostRow, ...]:
    groups: dict[tuple[str, str], list[SessionRecord]] = {}
    for record in records:
        groups.setdefault((record.model, record.arm), []).append(record)
    return tuple(
        CostRow(
            model=model,
            arm=arm,
            sessions=len(group),
            turns=sum(len(r.turns) for r in group),
            cost_usd=round(sum(r.estimated_cost_usd for r in group), 6),
            audio_min=sum(r.assistant_audio_s for r in group) / 60,
            priced=all(r.priced for r in group),
        )
        for (model, arm), group in sorted(groups.items())
    )
