"""The engine's clock: when it next has something to do, and what is due at a given time.

Chunks going out are the turn's own business (``TurnInProgress.take_due_chunk``); the deadlines are here: the
session's set-up, another response gone quiet, the end of the pause between turns, a barge-in, the turn's timeout.
Asked on every wake (50 a second per session at 20 ms chunks), so no lists and the cheap checks first.
"""

from __future__ import annotations

from s2s_users.core.engine import endings
from s2s_users.core.engine.answers import Answers
from s2s_users.core.engine.endings import Ending
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.engine.table import SETUP_STATES, State, Trigger
from s2s_users.core.engine.turn import TurnInProgress

Due = tuple[Trigger, Ending | None]
"""The move that is due, with how it ends the session or its turn when it does."""


class Deadlines:
    """Times are monotonic seconds."""

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._timeout_s = settings.turn_timeout_s
        self._barges_in = settings.barge_in_after_s is not None
        self._think_until = 0.0

    def pause(self, now: float) -> None:
        """A turn ended: the next one starts after the think time."""
        self._think_until = now + self._settings.think_time_s

    def next(self, state: State, turn: TurnInProgress | None, answers: Answers, setup_deadline: float) -> float | None:
        """When something is next due (None: nothing will be until an event comes)."""
        if state in SETUP_STATES:
            return setup_deadline
        assert turn is not None
        due = turn.next_chunk_due()
        if state is State.THINKING:
            due = _earliest(due, self._think_until)
        else:
            due = _earliest(due, turn.deadline(self._timeout_s))
            if self._barges_in:
                due = _earliest(due, self._barge_in_at(turn))
        return _earliest(due, answers.deadline(self._timeout_s))

    def due(
        self, now: float, state: State, turn: TurnInProgress | None, answers: Answers, setup_deadline: float
    ) -> Due | None:
        """The move due at ``now``, if any (THINK_ELAPSED: the pause is over)."""
        if state in SETUP_STATES:
            if now < setup_deadline:
                return None
            waiting_for = "session.created" if state is State.CONNECTING else "session.updated"
            return Trigger.SETUP_TIMEOUT, endings.setup_timed_out(waiting_for, self._timeout_s)
        assert turn is not None
        stalled = answers.stalled(now, self._timeout_s)
        if stalled is not None:
            seen = stalled.first_audio_at is not None
            return Trigger.OTHER_TIMEOUT, endings.response_stalled(stalled.response_id, seen, self._timeout_s)
        if state is State.THINKING:
            return (Trigger.THINK_ELAPSED, None) if now >= self._think_until else None
        barge_at = self._barge_in_at(turn) if self._barges_in else None
        if state is State.RECEIVING and barge_at is not None and now >= barge_at:
            return Trigger.BARGE_IN, None
        deadline = turn.deadline(self._timeout_s)
        if state in (State.AWAITING, State.RECEIVING) and deadline is not None and now >= deadline:
            return Trigger.TURN_TIMEOUT, None
        return None

    def _barge_in_at(self, turn: TurnInProgress) -> float | None:
        barges = self._settings.barges_in(turn.index)
        return turn.barge_in_at(self._settings.barge_in_after_s if barges else None)


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None or a <= b else b
