"""Record builders shared by the tests: one turn or session with sensible values, changed by keyword."""

from __future__ import annotations

import dataclasses
from typing import Any

from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.records import SessionLabels, SessionOutcome, SessionRecord, TurnRecord, turn_outcome

T0 = 1_760_000_000.0  # an epoch second in 2025

LABELS = SessionLabels(
    run_id="run-1",
    model="gpt-realtime",
    provider="openai",
    voice="alloy",
    turn_mode="manual",
    scenario="soak",
    worker="w1",
)


def turn(index: int = 0, started_at: float = T0, **changes: Any) -> TurnRecord:
    base = TurnRecord(
        turn=index,
        prompt_id=f"prompt-{index}",
        outcome="ok",
        input_audio_s=2.0,
        assistant_audio_s=3.5,
        audio_bytes=168_000,
        ttfa_ms=420.0,
        response_ms=3900.0,
        pacing_lag_ms=0.4,
        started_at=started_at,
        response_status="completed",
        input_tokens=100,
        output_tokens=200,
    )
    if isinstance(changes.get("outcome"), str):
        changes["outcome"] = turn_outcome(changes["outcome"])
    return dataclasses.replace(base, **changes)


def session(
    session_id: str = "s-1",
    turns: int = 3,
    ended_at: float = T0 + 60,
    **changes: Any,
) -> SessionRecord:
    """A session; label fields (``model=``, ``worker=``...) change its labels, other keywords the record."""
    base = SessionRecord(
        session_id=session_id,
        labels=LABELS,
        started_at=T0,
        ended_at=ended_at,
        turns_planned=turns,
        turns_completed=turns,
        assistant_audio_s=3.5 * turns,
        capacity_to_failure_s=3.5 * turns,
        censored=True,
        capacity_to_silent_failure_s=3.5 * turns,
        silent_censored=True,
        outcome=SessionOutcome.COMPLETED,
        failure_class=None,
        failure_turn=None,
        failure_detail=None,
        silent_failure_turn=None,
        visible_failure_turn=None,
        end_class=None,
        close_code=1000,
        close_reason="done",
        close_frame_received=True,
        turns=tuple(turn(i, started_at=T0 + 10 * i) for i in range(turns)),
    )
    return with_changes(base, **changes)


def with_changes(record: SessionRecord, **changes: Any) -> SessionRecord:
    """``dataclasses.replace`` that also takes label fields, and taxonomy codes and outcomes as text."""
    label_names = {f.name for f in dataclasses.fields(SessionLabels)}
    labels = {key: changes.pop(key) for key in list(changes) if key in label_names}
    for key in ("failure_class", "end_class"):
        if isinstance(changes.get(key), str):
            changes[key] = FailureClass(changes[key])
    if isinstance(changes.get("outcome"), str):
        changes["outcome"] = SessionOutcome(changes["outcome"])
    return dataclasses.replace(record, labels=dataclasses.replace(record.labels, **labels), **changes)
