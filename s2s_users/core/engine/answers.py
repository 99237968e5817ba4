"""The responses of a session, each tracked to its end and booked: the running turn's own answer (which the turn
points to) and the others, the responses the server started on its own and the answers we spoke over.

Which of them a response event belongs to is decided here (``route``), so the engine's table only ever sees the
trigger that fits: the turn's own answer, or another response. Each response ends in a ``TurnRecord`` that goes to
the session's account; the others keep the timing of the turn that asked for them (none for unsolicited ones) until
their ``response.done``. The own answer's audio also goes to the evidence tape, its transcript to the memory a
fresh session is given.
"""

from __future__ import annotations

import math

from s2s_users.core import events as ev
from s2s_users.core import failures as fl
from s2s_users.core.engine.account import SessionAccount
from s2s_users.core.engine.endings import Ending
from s2s_users.core.engine.response import NO_TURN, ResponseInProgress, TurnTiming
from s2s_users.core.engine.rotation import ConversationMemory
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.engine.table import State, Trigger
from s2s_users.core.engine.turn import TurnInProgress
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.tape import AudioTape

#: Why the server started a response the script did not ask for, by what the turn was doing then.
VAD_SPLIT = "vad_split"  # while our prompt was still streaming: the server's VAD ended the turn at a pause
LEFTOVER = "leftover"  # after the turn's answer: audio after the prompt (silence, noise) taken for speech
UNKNOWN = "unknown"
_UNSOLICITED_REASONS = {State.SENDING: VAD_SPLIT, State.THINKING: LEFTOVER}

#: Response events, and where they go when they belong to another response than the turn's own.
_OTHER_TRIGGERS = {
    Trigger.AUDIO: Trigger.OTHER_AUDIO,
    Trigger.TRANSCRIPT: Trigger.OTHER_TEXT,
    Trigger.TEXT: Trigger.OTHER_TEXT,
    Trigger.RESPONSE_DONE: Trigger.OTHER_RESPONSE_DONE,
}


class Answers:
    """Times are monotonic seconds."""

    def __init__(
        self,
        settings: EngineSettings,
        account: SessionAccount,
        wall_offset: float,
        tape: AudioTape | None = None,
        memory: ConversationMemory | None = None,
    ) -> None:
        self._account = account
        self._tape = tape
        self._memory = memory
        self._floor = max(1, math.ceil(32768 * 10 ** (settings.silence_floor_dbfs / 20)))
        self._floor_dbfs = settings.silence_floor_dbfs
        self._rate = settings.output_rate
        self._speed = settings.pace.speed or 1.0
        self._wall_offset = wall_offset
        self._others: dict[str, tuple[ResponseInProgress, TurnTiming]] = {}
        self._ended: set[str] = set()

    def route(self, trigger: Trigger, event: ev.Event, own: ResponseInProgress | None) -> Trigger:
        """Events of a response that is not the current turn's own go to the other responses' triggers."""
        response_id = getattr(event, "response_id", "")
        if not response_id or trigger not in _OTHER_TRIGGERS:
            return trigger
        if own is not None and own.response_id in ("", response_id):
            return trigger
        if response_id in self._others or response_id in self._ended or own is not None:
            return _OTHER_TRIGGERS[trigger]
        return trigger

    def _classify(self, response: ResponseInProgress, done: ev.ResponseDone) -> FailureClass | None:
        return response.classify(done, self._floor_dbfs, self._speed)

    # --- the running turn's own answer ------------------------------------------------------------------

    def _new(self, turn: TurnInProgress, response_id: str, now: float, reason: str | None) -> ResponseInProgress:
        return ResponseInProgress.starting(
            response_id, turn.index, turn.prompt.prompt_id, now, self._floor, self._rate, reason is None, reason
        )

    def start(self, turn: TurnInProgress, response_id: str, now: float) -> None:
        turn.response = self._new(turn, response_id, now, reason=None)

    def own(self, turn: TurnInProgress, response_id: str, now: float) -> ResponseInProgress:
        """The turn's answer; the first event of it (created, audio, or an empty done) starts it."""
        if turn.response is None:
            self.start(turn, response_id, now)
        assert turn.response is not None
        return turn.response

    def own_audio(self, turn: TurnInProgress, delta: ev.AudioDelta, now: float) -> None:
        self.own(turn, delta.response_id, now).count_audio(delta.pcm, now)
        if self._tape is not None:
            self._tape.add(delta.pcm)

    def own_text(self, turn: TurnInProgress, delta: ev.TranscriptDelta | ev.TextDelta) -> None:
        """The answer's transcript, or text it gave instead of audio (a sub-case of zero audio)."""
        if turn.response is None:
            return
        turn.response.count_text(delta)
        if self._memory is not None and isinstance(delta, ev.TranscriptDelta):
            self._memory.hear(delta.text)

    def own_done(
        self, turn: TurnInProgress, done: ev.ResponseDone, now: float
    ) -> tuple[FailureClass | None, str | None]:
        """How the turn's answer ended: its code and what its record says (no answer yet: an empty one)."""
        response = self.own(turn, done.response_id, now)
        code = self._classify(response, done)
        return code, response.detail_for(code, done)

    def book_turn(
        self,
        turn: TurnInProgress,
        code: FailureClass | None,
        now: float,
        detail: str | None,
        timing: TurnTiming,
        done: ev.ResponseDone | None = None,
    ) -> None:
        """The turn ended: its record (its answer's; an empty one when none came) goes to the account."""
        response = turn.response or self._new(turn, "", now, reason=None)
        if response.response_id:
            self._ended.add(response.response_id)
        self._account.turn_ended(response.record(code, now, detail, done, timing, self._wall_offset))
        if self._tape is not None:
            self._tape.turn_ended(turn.index, failed=self._account.first_failure_turn is not None)
        if self._memory is not None:
            self._memory.turn_ended(turn.index)

    # --- the others -------------------------------------------------------------------------------------

    def unsolicited(self, turn: TurnInProgress, response_id: str, state: State, now: float) -> None:
        """A response the server started on its own while the turn was in ``state``."""
        reason = _UNSOLICITED_REASONS.get(state, UNKNOWN)
        self._others[response_id] = (self._new(turn, response_id, now, reason), NO_TURN)

    def spoken_over(self, answer: ResponseInProgress, timing: TurnTiming, speech_starts_at: float) -> None:
        """We barged in on ``answer``: it is tracked on as another response, to its end."""
        answer.interrupt(speech_starts_at)
        self._others[answer.response_id] = (answer, timing)

    def turn_started(self, turn: int, speech_starts_at: float) -> None:
        """A new turn: its answer gets a new reel of tape; the answers the server is still giving when its speech
        starts are talked over (stopping them then is what a listening server does, never a failure)."""
        if self._tape is not None:
            self._tape.begin(turn)
        for response, _ in self._others.values():
            if response.interrupted_at is None:
                response.interrupt(speech_starts_at)

    def count_other(self, event: ev.AudioDelta | ev.TranscriptDelta | ev.TextDelta, now: float) -> None:
        """Count an event for its live response; audio of none (a straggler's) counts for the session."""
        other = self._others.get(event.response_id)
        if other is None:
            self._account.stray_audio(len(event.pcm) if isinstance(event, ev.AudioDelta) else 0)
            return
        response = other[0]
        response.last_event_at = now
        if isinstance(event, ev.AudioDelta):
            response.count_audio(event.pcm, now)
        else:
            response.count_text(event)

    def end_other(self, done: ev.ResponseDone, now: float) -> Ending | None:
        """Another response's done, booked; returns how the session ends when it failed it (a drop-class end)."""
        self._ended.add(done.response_id)
        other = self._others.pop(done.response_id, None)
        if other is None:
            return None  # a straggler's done: nothing left to book
        response, timing = other
        code = self._classify(response, done)
        record = response.record(code, now, response.detail_for(code, done), done, timing, self._wall_offset)
        self._account.turn_ended(record)
        return Ending(code, record.detail or str(code)) if code is not None and code in fl.TERMINAL else None

    def deadline(self, timeout_s: float) -> float | None:
        """When the quietest live response stalls (no event for ``timeout_s``)."""
        if not self._others:
            return None  # the common case, asked on every wake
        return min((r.last_event_at + timeout_s for r, _ in self._others.values()), default=None)

    def stalled(self, now: float, timeout_s: float) -> ResponseInProgress | None:
        if not self._others:
            return None
        return next((r for r, _ in self._others.values() if now >= r.last_event_at + timeout_s), None)

    def cut_by_end(self, code: FailureClass | None, now: float) -> None:
        """The session ended: the responses still streaming are booked as cut by its end with ``code``."""
        for response, timing in self._others.values():
            detail = "the session ended before this response did"
            self._account.turn_ended(response.record(code, now, detail, None, timing, self._wall_offset))
        self._others.clear()
