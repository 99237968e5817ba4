"""Record builders shared by the tests: one turn or session with sensible values, changed by keyword."""

from __future__ import annotations

import dataclasses
from typing import Any

from s2s_users.metrics.records import SessionLabels, SessionRecord, TurnRecord

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
    return dataclasses.replace(base, **changes)


def session(
    session_id: str = "s-1",
    turns: int = 3,
    ended_at: float = T0 + 60,
    **changes: Any,
) -> SessionRecord:
    base = SessionRecord(
        session_id=session_id,
        run_id=LABELS.run_id,
        model=LABELS.model,
        provider=LABELS.provider,
        voice=LABELS.voice,
        turn_mode=LABELS.turn_mode,
        scenario=LABELS.scenario,
        worker=LABELS.worker,
        started_at=T0,
        ended_at=ended_at,
        turns_planned=turns,
        turns_completed=turns,
        assistant_audio_s=3.5 * turns,
        capacity_to_failure_s=3.5 * turns,
        censored=True,
        capacity_to_silent_failure_s=3.5 * turns,
        silent_censored=True,
        outcome="completed",
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
    return dataclasses.replace(base, **changes)
