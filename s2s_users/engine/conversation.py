"""The turn engine: one scripted multi-turn session as a table-driven state machine.

Pure: events and the current time come in, intents go to the adapter, records come out. ``session.py`` owns
the socket and the waiting; it asks ``next_deadline()`` when to call ``on_timer()`` again.

Rule (as in h11's ``_state.py``): every state change goes through ``TRANSITIONS``; the end states are sticky.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field

from s2s_users import events as ev
from s2s_users import failures as fl
from s2s_users.audio import amplitude_dbfs, peak_amplitude
from s2s_users.engine.pacing import ChunkPacer, Pace
from s2s_users.engine.script import Script, ScriptedPrompt
from s2s_users.failures import FailureClass
from s2s_users.metrics.cost import turn_cost_usd
from s2s_users.metrics.records import OK, SessionLabels, SessionOutcome, SessionRecord, TurnRecord
from s2s_users.protocols.base import RealtimeProtocol


class State(enum.Enum):
    CONNECTING = "connecting"  # socket open, waiting for the server's session.created
    CONFIGURING = "configuring"  # session.update sent, waiting for session.updated
    SENDING = "sending"  # streaming the user's prompt
    AWAITING = "awaiting"  # prompt done, no response yet
    RECEIVING = "receiving"  # a response is running
    THINKING = "thinking"  # pause between turns
    DONE = "done"  # every planned turn played
    ENDED = "ended"  # ended early: failure, session cap, or harness stop


class Trigger(enum.Enum):
    SESSION_CREATED = "session_created"
    SESSION_UPDATED = "session_updated"
    PROMPT_SENT = "prompt_sent"
    RESPONSE_STARTED = "response_started"
    TURN_ENDED = "turn_ended"
    LAST_TURN_ENDED = "last_turn_ended"
    THINK_ELAPSED = "think_elapsed"
    SESSION_ENDED = "session_ended"


TRANSITIONS: dict[State, dict[Trigger, State]] = {
    State.CONNECTING: {Trigger.SESSION_CREATED: State.CONFIGURING},
    State.CONFIGURING: {Trigger.SESSION_UPDATED: State.SENDING},
    State.SENDING: {Trigger.PROMPT_SENT: State.AWAITING},
    State.AWAITING: {
        Trigger.RESPONSE_STARTED: State.RECEIVING,
        Trigger.TURN_ENDED: State.THINKING,
        Trigger.LAST_TURN_ENDED: State.DONE,
    },
    State.RECEIVING: {Trigger.TURN_ENDED: State.THINKING, Trigger.LAST_TURN_ENDED: State.DONE},
    State.THINKING: {Trigger.THINK_ELAPSED: State.SENDING},
    State.DONE: {},
    State.ENDED: {},
}
# Any live state may end the session (failure, cap, harness stop); DONE and ENDED are sticky.
for _state in (
    State.CONNECTING,
    State.CONFIGURING,
    State.SENDING,
    State.AWAITING,
    State.RECEIVING,
    State.THINKING,
):
    TRANSITIONS[_state][Trigger.SESSION_ENDED] = State.ENDED

_TURN_STATES = frozenset({State.SENDING, State.AWAITING, State.RECEIVING})

# Where assistant audio counts for the running turn. In manual mode no answer to this turn can exist before our
# commit and response.create, so audio while the prompt streams is a straggler of an earlier response: counted,
# it made a negative ttfa, turned a later no-answer into timeout.stall and could hide a zero-audio response.
# Server VAD may answer before the prompt (and its trailing silence) is over, so there every turn state counts.
_AUDIO_STATES = {
    "manual": frozenset({State.AWAITING, State.RECEIVING}),
    "server_vad": _TURN_STATES,
}


class IllegalTransition(RuntimeError):
    """The engine tried a move its table does not allow: a bug in the engine, not in the server."""


@dataclass(frozen=True, slots=True)
class EngineSettings:
    turns: int = 60
    turn_mode: str = "manual"
    pace: Pace = field(default_factory=lambda: Pace(1.0))
    think_time_s: float = 1.0
    turn_timeout_s: float = 30.0
    silence_floor_dbfs: float = -50.0


@dataclass(slots=True)
class _Turn:
    """The turn being played (mutable while it runs; frozen into a TurnRecord at its end)."""

    index: int
    prompt: ScriptedPrompt
    pacer: ChunkPacer
    started_at: float
    next_chunk: int = 0
    audio_end_at: float | None = None
    first_audio_at: float | None = None
    last_event_at: float = 0.0
    audio_bytes: int = 0
    peak: int = 0
    transcript_chars: int = 0
    text_chars: int = 0
    context_truncated: bool = False
    detail: str | None = None


class Conversation:
    """One session's conversation logic. Feed it events and timer ticks; read records from it."""

    def __init__(
        self,
        adapter: RealtimeProtocol,
        script: Script,
        settings: EngineSettings,
        labels: SessionLabels,
        now: float,
        wall_offset: float = 0.0,
    ) -> None:
        """``now`` is the monotonic clock at connect; ``wall_offset`` turns it into epoch seconds for records."""
        self.adapter = adapter
        self.script = script
        self.settings = settings
        self.labels = labels
        self.state = State.CONNECTING
        self.session_id = ""
        self._audio_states = _AUDIO_STATES.get(settings.turn_mode, _TURN_STATES)
        self._wall_offset = wall_offset
        self._started_at = now
        self._setup_deadline = now + settings.turn_timeout_s
        self._turn: _Turn | None = None
        self._think_until = 0.0
        self._turns: list[TurnRecord] = []
        self._new_turns: list[TurnRecord] = []
        self._audio_s = 0.0
        self._failure: tuple[FailureClass, int, str | None] | None = None
        self._silent_turn: int | None = None
        self._visible_turn: int | None = None
        self._capacity: float | None = None
        self._silent_capacity: float | None = None
        self._end_class: FailureClass | None = None
        self._ended_at: float | None = None
        self._close: tuple[int | None, str | None, bool | None] = (None, None, None)
        self._truncations = 0
        self._cost_usd = 0.0
        self._turns_ok = 0
        self._http_status: int | None = None

    # --- state table ------------------------------------------------------------------------------------

    def _fire(self, trigger: Trigger) -> None:
        target = TRANSITIONS[self.state].get(trigger)
        if target is None:
            raise IllegalTransition(f"{trigger.value} is not allowed in state {self.state.value}")
        self.state = target

    @property
    def finished(self) -> bool:
        return self.state in (State.DONE, State.ENDED)

    # --- inputs -----------------------------------------------------------------------------------------

    def handle(self, event: ev.Event, now: float) -> None:
        """React to one event from the adapter."""
        if self.finished:
            return
        if self._turn is not None:
            self._turn.last_event_at = now
        match event:
            case ev.SessionCreated(session_id=session_id) if self.state is State.CONNECTING:
                self.session_id = session_id
                self.adapter.configure()
                self._fire(Trigger.SESSION_CREATED)
            case ev.SessionUpdated() if self.state is State.CONFIGURING:
                self._fire(Trigger.SESSION_UPDATED)
                self._start_turn(1, now)
            case ev.ServerError():
                self._server_error(event, now)
            case ev.ResponseCreated() if self.state is State.AWAITING:
                self._fire(Trigger.RESPONSE_STARTED)
            case ev.AudioDelta(pcm=pcm) if self._turn is not None and self.state in self._audio_states:
                turn = self._turn
                if turn.first_audio_at is None and pcm:
                    turn.first_audio_at = now
                turn.audio_bytes += len(pcm)
                turn.peak = max(turn.peak, peak_amplitude(pcm))
                if self.state is State.AWAITING:  # some clones never send response.created
                    self._fire(Trigger.RESPONSE_STARTED)
            case ev.TranscriptDelta(text=text) if self._turn is not None:
                self._turn.transcript_chars += len(text)
            case ev.TextDelta(text=text) if self._turn is not None:
                self._turn.text_chars += len(text)
            case ev.ResponseDone() if self.state in (State.AWAITING, State.RECEIVING):
                self._response_done(event, now)
            case ev.ContextTruncated():
                self._truncations += 1
                if self._turn is not None:
                    self._turn.context_truncated = True
            case ev.MalformedMessage(detail=detail):
                self._end_session(FailureClass.PROTOCOL_UNEXPECTED, detail, now)
            case _:
                pass  # Known-but-quiet, unknown (counted by the adapter), or not for this state.

    def on_timer(self, now: float) -> None:
        """Do whatever is due at ``now``: send chunks, end thinking, enforce deadlines."""
        if self.finished:
            return
        if self.state in (State.CONNECTING, State.CONFIGURING):
            if now >= self._setup_deadline:
                waiting_for = "session.created" if self.state is State.CONNECTING else "session.updated"
                self._end_session(
                    FailureClass.TIMEOUT_FIRST_AUDIO,
                    f"no {waiting_for} within {self.settings.turn_timeout_s:g} s",
                    now,
                )
            return
        if self.state is State.THINKING:
            if now >= self._think_until:
                self._fire(Trigger.THINK_ELAPSED)
                assert self._turn is not None
                self._start_turn(self._turn.index + 1, now)
            return
        turn = self._turn
        assert turn is not None
        self._send_due_chunks(turn, now)
        if self.state in (State.AWAITING, State.RECEIVING):
            deadline = self._turn_deadline(turn)
            if deadline is not None and now >= deadline:
                observation = fl.DeadlinePassed(first_audio_seen=turn.first_audio_at is not None)
                code = fl.classify(observation)
                assert code is not None
                waited = "first audio" if turn.first_audio_at is None else "the next event"
                self._end_turn(code, now, detail=f"no {waited} within {self.settings.turn_timeout_s:g} s")

    def next_deadline(self) -> float | None:
        """When ``on_timer`` next has something to do (monotonic seconds), or None when finished."""
        if self.finished:
            return None
        if self.state in (State.CONNECTING, State.CONFIGURING):
            return self._setup_deadline
        if self.state is State.THINKING:
            return self._think_until
        turn = self._turn
        assert turn is not None
        candidates = []
        if turn.next_chunk < len(turn.prompt.chunks_b64):
            candidates.append(turn.pacer.due(turn.next_chunk))
        deadline = self._turn_deadline(turn)
        if deadline is not None:
            candidates.append(deadline)
        return min(candidates) if candidates else None

    def on_connection_ended(self, code: int | None, reason: str, frame_received: bool, now: float) -> None:
        """The socket closed (or dropped) while we still had work to do."""
        self._close = (code, reason, frame_received)
        if self.finished:
            return
        failure = fl.classify(fl.ConnectionEnded(code=code, reason=reason, frame_received=frame_received))
        assert failure is not None
        detail = f"close {code} {reason}".strip() if frame_received else "no close frame received or sent"
        self._end_session(failure, detail, now)

    def on_closed_by_us(self, code: int | None, reason: str | None, frame_received: bool) -> None:
        """Record how the socket ended after we closed it (end of script, or after a failure)."""
        if self._close == (None, None, None):
            self._close = (code, reason, frame_received)

    def on_connect_failed(self, http_status: int | None, detail: str, now: float) -> None:
        """The handshake failed before the session existed."""
        failure = fl.classify(fl.HandshakeRejected(http_status))
        assert failure is not None
        self._http_status = http_status
        self._end_session(failure, detail, now)

    def on_stopped(self, now: float) -> None:
        """Locust stopped the user: the session is censored here, never counted as a failure."""
        if not self.finished:
            self._end_session(FailureClass.HARNESS_STOPPED, "stopped by the load test", now)

    def take_new_turns(self) -> list[TurnRecord]:
        """Turn records finished since the last call (for live stats)."""
        out, self._new_turns = self._new_turns, []
        return out

    # --- turns ------------------------------------------------------------------------------------------

    def _start_turn(self, index: int, now: float) -> None:
        self._turn = _Turn(
            index=index,
            prompt=self.script.prompt_for_turn(index),
            pacer=ChunkPacer(now, self.script.chunk_s, self.settings.pace),
            started_at=now,
            last_event_at=now,
        )
        self._send_due_chunks(self._turn, now)

    def _send_due_chunks(self, turn: _Turn, now: float) -> None:
        chunks = turn.prompt.chunks_b64
        while turn.next_chunk < len(chunks) and turn.pacer.due(turn.next_chunk) <= now:
            self.adapter.append_audio(chunks[turn.next_chunk])
            turn.pacer.sent(turn.next_chunk, now)
            turn.next_chunk += 1
            if turn.next_chunk == turn.prompt.prompt_chunks and self.state is State.SENDING:
                turn.audio_end_at = now
                turn.last_event_at = now
                if self.settings.turn_mode == "manual":
                    self.adapter.commit()
                    self.adapter.create_response()
                self._fire(Trigger.PROMPT_SENT)

    def _turn_deadline(self, turn: _Turn) -> float | None:
        if turn.audio_end_at is None:
            return None
        if turn.first_audio_at is None:
            return turn.audio_end_at + self.settings.turn_timeout_s
        return turn.last_event_at + self.settings.turn_timeout_s

    def _response_done(self, done: ev.ResponseDone, now: float) -> None:
        turn = self._turn
        assert turn is not None
        peak_dbfs = amplitude_dbfs(turn.peak)
        code = fl.classify(
            fl.ResponseEnded(
                status=done.status,
                audio_bytes=turn.audio_bytes,
                peak_dbfs=peak_dbfs,
                silence_floor_dbfs=self.settings.silence_floor_dbfs,
            )
        )
        detail = None
        if code is FailureClass.ZERO_AUDIO and turn.text_chars:
            detail = f"text-only response ({turn.text_chars} chars of text, no audio)"
        elif code is FailureClass.ZERO_AUDIO:
            detail = "response.done completed with zero audio bytes"
        elif done.status == "failed":
            detail = ": ".join(str(p) for p in (done.error_type, done.error_code, done.error_message) if p)
        elif done.reason:
            detail = f"reason {done.reason}"
        self._end_turn(code, now, detail=detail or turn.detail, done=done)

    def _server_error(self, error: ev.ServerError, now: float) -> None:
        text = f"{error.code or error.type or 'error'}: {error.message}"
        if self.state in (State.CONNECTING, State.CONFIGURING) or (
            error.caused_by is not None and error.caused_by == self.adapter.config_event_id
        ):
            # A rejected session.update leaves the session on defaults: measuring it would be a lie.
            self._end_session(FailureClass.SERVER_ERROR_EVENT, f"session.update rejected: {text}", now)
            return
        code = fl.classify(fl.ErrorReceived(error.code))
        if code is FailureClass.SESSION_EXPIRED:
            self._end_session(code, text, now)
        elif self.state is State.AWAITING:
            self._end_turn(FailureClass.SERVER_ERROR_EVENT, now, detail=text)
        elif self._turn is not None:
            self._turn.detail = text  # a response is running or we are between turns: note it, keep going

    def _end_turn(
        self,
        code: FailureClass | None,
        now: float,
        detail: str | None = None,
        done: ev.ResponseDone | None = None,
        terminal: bool = False,
    ) -> None:
        turn = self._turn
        assert turn is not None
        record = self._turn_record(turn, code, now, detail, done)
        self._turns.append(record)
        self._new_turns.append(record)
        self._note_failure(code, turn.index, detail)
        self._audio_s += record.assistant_audio_s
        self._turns_ok += record.outcome == OK
        self._cost_usd += turn_cost_usd(self.labels.model, record)
        if terminal or code in fl.TERMINAL:
            self._end_class = code
            self._finish(now)
        elif turn.index >= self.settings.turns:
            self._fire(Trigger.LAST_TURN_ENDED)
            self._ended_at = now
        else:
            self._fire(Trigger.TURN_ENDED)
            self._think_until = now + self.settings.think_time_s

    def _turn_record(
        self,
        turn: _Turn,
        code: FailureClass | None,
        now: float,
        detail: str | None,
        done: ev.ResponseDone | None,
    ) -> TurnRecord:
        def since_audio_end(t: float | None) -> float | None:
            if t is None or turn.audio_end_at is None:
                return None
            return round((t - turn.audio_end_at) * 1000, 3)

        usage = done.usage if done is not None and done.usage is not None else ev.Usage()
        peak = amplitude_dbfs(turn.peak)
        return TurnRecord(
            turn=turn.index,
            prompt_id=turn.prompt.prompt_id,
            outcome=code if code is not None else OK,
            input_audio_s=round(turn.prompt.input_audio_s, 4),
            assistant_audio_s=round(turn.audio_bytes / (2 * self.adapter.output_rate), 4),
            audio_bytes=turn.audio_bytes,
            ttfa_ms=since_audio_end(turn.first_audio_at),
            response_ms=since_audio_end(now) if done is not None else None,
            pacing_lag_ms=round(turn.pacer.max_lag_s * 1000, 3),
            started_at=round(turn.started_at + self._wall_offset, 6),
            ended_at=round(now + self._wall_offset, 6),
            response_status=done.status if done is not None else None,
            detail=detail,
            peak_dbfs=round(peak, 2) if math.isfinite(peak) else None,
            transcript_chars=turn.transcript_chars,
            text_chars=turn.text_chars,
            context_truncated=turn.context_truncated,
            **TurnRecord.usage_fields(usage),
        )

    # --- session end ------------------------------------------------------------------------------------

    def _note_failure(self, code: FailureClass | None, turn: int, detail: str | None) -> None:
        if not fl.is_failure(code):
            return
        assert code is not None
        if self._failure is None:
            self._failure = (code, turn, detail)
            self._capacity = self._audio_s
        if fl.is_silent(code) and self._silent_turn is None:
            self._silent_turn = turn
            self._silent_capacity = self._audio_s
        if not fl.is_silent(code) and self._visible_turn is None:
            self._visible_turn = turn

    def _end_session(self, code: FailureClass, detail: str, now: float) -> None:
        """End early: the running turn (if any) ends with ``code``; otherwise the session does."""
        if self._turn is not None and self.state in _TURN_STATES:
            self._end_turn(code, now, detail=detail, terminal=True)
            return
        self._note_failure(code, self._turn.index + 1 if self._turn else 0, detail)
        self._end_class = code
        self._finish(now)

    def _finish(self, now: float) -> None:
        self._fire(Trigger.SESSION_ENDED)
        self._ended_at = now

    def session_record(self) -> SessionRecord:
        """The record of the whole session (call once finished)."""
        return dataclasses.replace(self.progress(), turns=tuple(self._turns))

    def progress(self) -> SessionRecord:
        """The session so far, without its turns: cheap enough to report every second while it runs."""
        failure_class, failure_turn, failure_detail = self._failure or (None, None, None)
        if failure_class is not None:
            outcome = SessionOutcome.FAILED
        elif self._end_class is FailureClass.SESSION_EXPIRED:
            outcome = SessionOutcome.EXPIRED
        elif self._end_class is FailureClass.HARNESS_STOPPED:
            outcome = SessionOutcome.STOPPED
        else:
            outcome = SessionOutcome.COMPLETED
        close_code, close_reason, close_frame = self._close
        ended = self._ended_at if self._ended_at is not None else self._started_at
        return SessionRecord(
            session_id=self.session_id,
            labels=self.labels,
            started_at=round(self._started_at + self._wall_offset, 6),
            ended_at=round(ended + self._wall_offset, 6),
            turns_planned=self.settings.turns,
            turns_completed=self._turns_ok,
            assistant_audio_s=round(self._audio_s, 4),
            capacity_to_failure_s=round(self._capacity if self._capacity is not None else self._audio_s, 4),
            censored=self._capacity is None,
            capacity_to_silent_failure_s=round(
                self._silent_capacity if self._silent_capacity is not None else self._audio_s, 4
            ),
            silent_censored=self._silent_capacity is None,
            outcome=outcome,
            failure_class=failure_class,
            failure_turn=failure_turn,
            failure_detail=failure_detail,
            silent_failure_turn=self._silent_turn,
            visible_failure_turn=self._visible_turn,
            end_class=self._end_class,
            close_code=close_code,
            close_reason=close_reason,
            close_frame_received=close_frame,
            context_truncations=self._truncations,
            legacy_events=self.adapter.legacy_events,
            unknown_events=dict(self.adapter.unknown_events),
            estimated_cost_usd=round(self._cost_usd, 6),
            http_status=self._http_status,
        )
