"""A session's books, kept apart from its state machine: turns played, failures, capacity, cost, the record.

The conversation tells the account what happened (a turn ended with a code, the session ended, how the socket
closed); the account knows what that means for the record: the first failure and the first silent one, the
assistant audio accumulated before each (the capacity), the running cost, the outcome.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from s2s_users.core import failures as fl
from s2s_users.core.engine.rotation import Handover
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.events import ProtocolCounts
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.cost import DEFAULT_PRICES, Prices
from s2s_users.core.metrics.records import OK, SessionLabels, SessionOutcome, SessionRecord, TurnRecord


@dataclass(frozen=True, slots=True)
class _Failure:
    code: FailureClass
    turn: int
    detail: str | None


class SessionAccount:
    """The running totals of one session, from which its record (or its progress so far) is built."""

    def __init__(
        self,
        labels: SessionLabels,
        turns_planned: int,
        started_at: float,
        wall_offset: float,
        counts: ProtocolCounts,
        output_rate: int = 24_000,
        prices: Prices | None = DEFAULT_PRICES["gpt-realtime"],
        warn_at_audio_s: float | None = None,
    ) -> None:
        self.labels = labels
        self.turns_planned = turns_planned
        self.session_id = ""
        self.http_status: int | None = None
        self.end_class: FailureClass | None = None
        self.ended_at: float | None = None
        self.truncations = 0
        self.reconnects = 0
        self.rotations = 0
        self.cap_reconnects = 0
        self.reinjected_chars = 0
        self.provider_session_ids: list[str] = []
        self._prices = prices
        self._warn_at_audio_s = warn_at_audio_s
        self._warning: tuple[int, float] | None = None
        self.session_audio_s = 0.0
        """Assistant audio in the current provider session (what its context holds): rotation and warning go by it."""
        self.session_turns = 0
        self.bounded = False
        """The session reached a safety bound of ``--turns until-failure`` and ended there, censored."""
        self._started_at = started_at
        self._wall_offset = wall_offset
        self._counts = counts
        self.barge_ins = 0
        self._unsolicited: dict[str, int] = {}
        self._stray_bytes = 0
        self._output_rate = output_rate
        self._turns: list[TurnRecord] = []
        self._new_turns: list[TurnRecord] = []
        self._audio_s = 0.0
        self._turns_ok = 0
        self._cost_usd = 0.0
        self._failure: _Failure | None = None
        self._silent_turn: int | None = None
        self._visible_turn: int | None = None
        self._capacity: float | None = None
        self._silent_capacity: float | None = None
        self._close: tuple[int | None, str | None, bool | None] = (None, None, None)

    # --- what happened ----------------------------------------------------------------------------------

    @classmethod
    def for_engine(
        cls, settings: EngineSettings, labels: SessionLabels, now: float, wall_offset: float, counts: ProtocolCounts
    ) -> SessionAccount:
        """The books of a session the engine plays with ``settings`` (until failure: no number of turns planned)."""
        turns_planned = 0 if settings.until_failure else settings.turns
        return cls(
            labels,
            turns_planned,
            now,
            wall_offset,
            counts,
            settings.output_rate,
            settings.prices,
            settings.warn_at_audio_s,
        )

    def turn_ended(self, record: TurnRecord) -> None:
        """A turn's record is final: count its audio, cost and failure (capacity is what came before it)."""
        code = record.outcome if isinstance(record.outcome, FailureClass) else None
        self.note_failure(code, record.turn, record.detail)
        self._audio_s += record.assistant_audio_s
        self.session_audio_s += record.assistant_audio_s
        self.session_turns += record.solicited
        cost = self._prices.cost_usd(record.usage) if self._prices is not None else 0.0
        priced = None if self._prices is None else round(cost, 8)
        record = dataclasses.replace(record, session_audio_s=round(self.session_audio_s, 4), cost_usd=priced)
        self._turns.append(record)
        self._new_turns.append(record)
        self._turns_ok += record.outcome == OK and record.solicited
        self._cost_usd += cost
        warn_at = self._warn_at_audio_s
        if warn_at is not None and self._warning is None and self.session_audio_s >= warn_at:
            self._warning = (record.turn, round(self._audio_s, 4))
        if not record.solicited:
            reason = record.unsolicited_reason or "unknown"
            self._unsolicited[reason] = self._unsolicited.get(reason, 0) + 1

    def stray_audio(self, audio_bytes: int) -> None:
        """Audio of no live response: it counts toward the session's audio (and capacity) all the same."""
        self._stray_bytes += audio_bytes
        self._audio_s += audio_bytes / (2 * self._output_rate)
        self.session_audio_s += audio_bytes / (2 * self._output_rate)

    def note_failure(self, code: FailureClass | None, turn: int, detail: str | None) -> None:
        if not fl.is_failure(code):
            return
        assert code is not None
        if self._failure is None:
            self._failure = _Failure(code, turn, detail)
            self._capacity = self._audio_s
        if fl.is_silent(code) and self._silent_turn is None:
            self._silent_turn = turn
            self._silent_capacity = self._audio_s
        if not fl.is_silent(code) and self._visible_turn is None:
            self._visible_turn = turn

    def closed(self, code: int | None, reason: str | None, frame_received: bool, overwrite: bool = False) -> None:
        """How the socket ended: a drop says so (``overwrite``); our own close afterwards only fills a gap."""
        if overwrite or self._close == (None, None, None):
            self._close = (code, reason, frame_received)

    def reconnected(self, why: Handover) -> None:
        """The conversation goes on on a new connection: the next close is that connection's. A fresh session
        (not a resumed one) starts with an empty context."""
        if why is Handover.RESUME:
            self.reconnects += 1
        else:
            self.rotations += why is Handover.ROTATE
            self.cap_reconnects += why is Handover.CAP
            self.session_audio_s = 0.0
            self.session_turns = 0
        self._close = (None, None, None)

    def provider_session(self, session_id: str) -> None:
        """A provider session opened for this conversation (the first one names the conversation)."""
        self.session_id = self.session_id or session_id
        if session_id and session_id not in self.provider_session_ids:
            self.provider_session_ids.append(session_id)

    @property
    def first_failure_turn(self) -> int | None:
        return self._failure.turn if self._failure is not None else None

    @property
    def started_at(self) -> float:
        """When the session connected (monotonic seconds, the engine's clock)."""
        return self._started_at

    def take_new_turns(self) -> list[TurnRecord]:
        out, self._new_turns = self._new_turns, []
        return out

    # --- the record -------------------------------------------------------------------------------------

    def _outcome(self) -> SessionOutcome:
        if self._failure is not None:
            return SessionOutcome.FAILED
        if self.end_class is FailureClass.SESSION_EXPIRED:
            return SessionOutcome.EXPIRED
        if self.end_class is FailureClass.HARNESS_STOPPED:
            return SessionOutcome.STOPPED
        if self.bounded:
            return SessionOutcome.BOUNDED
        return SessionOutcome.COMPLETED

    def progress(self) -> SessionRecord:
        """The session so far, without its turns: cheap enough to report every second while it runs."""
        failure = self._failure
        close_code, close_reason, close_frame = self._close
        ended = self.ended_at if self.ended_at is not None else self._started_at
        return SessionRecord(
            session_id=self.session_id,
            labels=self.labels,
            started_at=round(self._started_at + self._wall_offset, 6),
            ended_at=round(ended + self._wall_offset, 6),
            turns_planned=self.turns_planned,
            turns_completed=self._turns_ok,
            assistant_audio_s=round(self._audio_s, 4),
            capacity_to_failure_s=round(self._capacity if self._capacity is not None else self._audio_s, 4),
            censored=self._capacity is None,
            capacity_to_silent_failure_s=round(
                self._silent_capacity if self._silent_capacity is not None else self._audio_s, 4
            ),
            silent_censored=self._silent_capacity is None,
            outcome=self._outcome(),
            failure_class=failure.code if failure else None,
            failure_turn=failure.turn if failure else None,
            failure_detail=failure.detail if failure else None,
            silent_failure_turn=self._silent_turn,
            visible_failure_turn=self._visible_turn,
            end_class=self.end_class,
            close_code=close_code,
            close_reason=close_reason,
            close_frame_received=close_frame,
            context_truncations=self.truncations,
            legacy_events=self._counts.legacy_events,
            unknown_events=dict(self._counts.unknown_events),
            estimated_cost_usd=round(self._cost_usd, 6),
            priced=self._prices is not None,
            http_status=self.http_status,
            unsolicited_responses=sum(self._unsolicited.values()),
            unsolicited_reasons=dict(self._unsolicited),
            stray_audio_s=round(self._stray_bytes / (2 * self._output_rate), 4),
            barge_ins=self.barge_ins,
            reconnects=self.reconnects,
            rotations=self.rotations,
            cap_reconnects=self.cap_reconnects,
            provider_session_ids=tuple(self.provider_session_ids),
            reinjected_chars=self.reinjected_chars,
            warning_turn=self._warning[0] if self._warning else None,
            warning_audio_s=self._warning[1] if self._warning else None,
        )

    def session_record(self) -> SessionRecord:
        """The record of the whole session, turns included."""
        return dataclasses.replace(self.progress(), turns=tuple(self._turns))
