"""The turn engine: one scripted multi-turn session as a table-driven state machine.

Pure, as h11's connection is: events from the provider adapter and the current time come in; intents (what to
send) and turn and session records come out. ``session.py`` owns the socket and the waiting: it hands
``take_intents()`` to the adapter and asks ``next_deadline()`` when to call ``on_timer()`` again.

Every move goes through ``TRANSITIONS``, keyed by state and trigger, to the next state and the action that does
the work. A server event that a state does not expect is ignored (servers send what they send); an internal
trigger that the table does not allow is a bug (``IllegalTransition``). The end states are sticky. What a turn or
session *means* (capacity, failures, cost, the record) is the ``SessionAccount``'s business; how a turn or
session ended is always decided by ``failures.classify()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from s2s_users.core import events as ev
from s2s_users.core import failures as fl
from s2s_users.core.engine.account import SessionAccount
from s2s_users.core.engine.announced_end import AnnouncedEnd
from s2s_users.core.engine.pacing import ChunkPacer
from s2s_users.core.engine.response import (
    LEFTOVER,
    NO_TURN,
    UNKNOWN,
    VAD_SPLIT,
    OtherResponses,
    ResponseInProgress,
    route,
)
from s2s_users.core.engine.rotation import ConversationMemory, Handover
from s2s_users.core.engine.script import Script
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.engine.table import (
    SERVER_TRIGGERS,
    TRANSITIONS,
    TRANSITIONS_BY_MODE,
    TURN_STATES,
    Action,
    State,
    Trigger,
    trigger_of,
)
from s2s_users.core.engine.turn import TurnInProgress
from s2s_users.core.failures import FailureClass
from s2s_users.core.intents import (
    AppendAudio,
    CancelResponse,
    Commit,
    Configure,
    CreateResponse,
    InjectContext,
    Intent,
)
from s2s_users.core.metrics.lag import LagHistogram
from s2s_users.core.metrics.records import SessionLabels, SessionRecord, TurnRecord
from s2s_users.core.metrics.tape import AudioTape


class IllegalTransition(RuntimeError):
    """The engine tried a move its table does not allow: a bug in the engine, not in the server."""


@dataclass(frozen=True, slots=True)
class _Ending:
    """How the session (or the running turn) ends: the code from ``classify()`` and what the record says."""

    code: FailureClass
    detail: str


class Conversation:
    """One session's conversation logic. Feed it events and timer ticks; take intents and records from it."""

    def __init__(
        self,
        script: Script,
        settings: EngineSettings,
        labels: SessionLabels,
        now: float,
        wall_offset: float = 0.0,
        counts: ev.ProtocolCounts | None = None,
        pacing: LagHistogram | None = None,
        tape: AudioTape | None = None,
    ) -> None:
        """``now`` is the monotonic clock at connect; ``wall_offset`` turns it into epoch seconds for records;
        ``counts`` is the adapter's count of legacy and unknown events, which the record reports; ``pacing`` (the
        process's, shared by its sessions) gets the lag of every chunk of each turn that the harness did not cut;
        ``tape`` (``--record-audio``) gets the audio of each turn's answer, for evidence."""
        self.script = script
        self.settings = settings
        self.labels = labels
        self.state = State.CONNECTING
        self.account = SessionAccount(
            labels,
            0 if settings.until_failure else settings.turns,
            now,
            wall_offset,
            counts or ev.ProtocolCounts(),
            settings.output_rate,
            settings.prices,
            settings.warn_at_audio_s,
        )
        self._table = TRANSITIONS_BY_MODE.get(settings.turn_mode, TRANSITIONS)
        self._wall_offset = wall_offset
        self._pacing = pacing
        self._tape = tape
        self._setup_deadline = now + settings.turn_timeout_s
        self._announced_end = AnnouncedEnd.session_cap(now, settings.session_cap_s)
        self._resume_after_going_away = False
        self.awaiting_connection = False
        """The engine let this connection go (announced end, rotation, cap) and waits for the next one."""
        self.handover: Handover | None = None
        """Why the engine let the connection go (while ``awaiting_connection``) or last did."""
        self._fresh_session = False
        self._memory = (
            ConversationMemory(settings.summary_chars)
            if settings.rotation.enabled or settings.reconnect_on_cap
            else None
        )
        self._transcript: list[str] = []
        self._turn: TurnInProgress | None = None
        self._others = OtherResponses()
        self._think_until = 0.0
        self._intents: list[Intent] = []
        self._floor = max(1, math.ceil(32768 * 10 ** (settings.silence_floor_dbfs / 20)))
        self._actions: dict[Action, Callable[[float, object], None]] = {
            Action.NONE: lambda now, payload: None,
            Action.CONFIGURE: self._configure,
            Action.START_TURN: self._start_turn,
            Action.END_PROMPT: self._end_prompt,
            Action.START_RESPONSE: self._start_response,
            Action.START_UNSOLICITED: self._start_unsolicited,
            Action.COUNT_AUDIO: self._count_audio,
            Action.COUNT_OTHER: self._count_other,
            Action.COUNT_TEXT: self._count_text,
            Action.COUNT_TRUNCATION: self._count_truncation,
            Action.END_RESPONSE: self._end_response,
            Action.END_OTHER_RESPONSE: self._end_other_response,
            Action.NOTE_SPEECH_STOPPED: self._note_speech_stopped,
            Action.BARGE_IN: self._barge_in,
            Action.ERROR_ENDS_TURN: self._error_ends_turn,
            Action.NOTE_ERROR: self._note_error,
            Action.REJECT_CONFIG: self._reject_config,
            Action.END_SESSION: self._end_session,
            Action.TIME_OUT_TURN: self._time_out_turn,
            Action.THINK: self._think,
            Action.FINISH: self._finish,
            Action.NOTE_GOING_AWAY: self._note_going_away,
            Action.HAND_OVER: self._hand_over,
        }

    @property
    def session_id(self) -> str:
        return self.account.session_id

    @property
    def finished(self) -> bool:
        return self.state in (State.DONE, State.ENDED)

    # --- the table --------------------------------------------------------------------------------------

    def _fire(self, trigger: Trigger, now: float = 0.0, payload: object = None) -> None:
        transition = self._table[self.state].get(trigger)
        if transition is None:
            if trigger in SERVER_TRIGGERS:
                return  # not for this state: servers send what they send
            raise IllegalTransition(f"{trigger.value} is not allowed in state {self.state.value}")
        if transition.next is not None:
            self.state = transition.next
        self._actions[transition.action](now, payload)

    # --- inputs -----------------------------------------------------------------------------------------

    def handle(self, event: ev.Event, now: float) -> None:
        """React to one event from the adapter."""
        if self.finished:
            return
        if self._turn is not None:
            self._turn.last_event_at = now  # any event shows the server is alive
            if self._turn.response is not None:
                self._turn.response.last_event_at = now
        trigger = trigger_of(event)
        if trigger is Trigger.SERVER_ERROR and self._at_announced_end(now):
            trigger = Trigger.CAP_ERROR  # Azure has been seen ending its capped sessions with a generic server_error
        if trigger is not None:
            own = self._turn.response if self._turn is not None else None
            self._fire(route(trigger, event, own, self._others), now, event)

    def on_timer(self, now: float) -> None:
        """Do whatever is due at ``now``: send chunks, end thinking, barge in, enforce deadlines."""
        if self.finished or self.awaiting_connection:
            return  # between connections nothing is due: the next one's set-up deadline starts when it opens
        if self.state in (State.CONNECTING, State.CONFIGURING):
            if now >= self._setup_deadline:
                waiting_for = "session.created" if self.state is State.CONNECTING else "session.updated"
                within = f"no {waiting_for} within {self.settings.turn_timeout_s:g} s"
                code = fl.classify(fl.DeadlinePassed(first_audio_seen=False))
                assert code is not None
                self._fire(Trigger.SETUP_TIMEOUT, now, _Ending(code, within))
            return
        turn = self._turn
        assert turn is not None
        self._send_due_chunks(turn, now)  # the prompt, or the carrier after it (also while thinking)
        stalled = self._others.stalled(now, self.settings.turn_timeout_s)
        if stalled is not None:
            code = fl.classify(fl.DeadlinePassed(first_audio_seen=stalled.first_audio_at is not None))
            assert code is not None
            within = f"no event of response {stalled.response_id} within {self.settings.turn_timeout_s:g} s"
            self._fire(Trigger.OTHER_TIMEOUT, now, _Ending(code, within))
            return
        if self.state is State.THINKING:
            if now >= self._think_until:
                self._after_thinking(now)
            return
        barge_at = self._barge_in_at(turn)
        if self.state is State.RECEIVING and barge_at is not None and now >= barge_at:
            self._fire(Trigger.BARGE_IN, now)
            return
        deadline = turn.deadline(self.settings.turn_timeout_s)
        if self.state in (State.AWAITING, State.RECEIVING) and deadline is not None and now >= deadline:
            self._fire(Trigger.TURN_TIMEOUT, now)

    def next_deadline(self) -> float | None:
        """When ``on_timer`` next has something to do (monotonic seconds), or None when finished."""
        if self.finished:
            return None
        if self.state in (State.CONNECTING, State.CONFIGURING):
            return self._setup_deadline
        turn = self._turn
        assert turn is not None
        candidates = [turn.next_chunk_due(), self._others.deadline(self.settings.turn_timeout_s)]
        if self.state is State.THINKING:
            candidates.append(self._think_until)
        else:
            candidates += [turn.deadline(self.settings.turn_timeout_s), self._barge_in_at(turn)]
        due = [t for t in candidates if t is not None]
        return min(due) if due else None

    def on_connection_ended(self, code: int | None, reason: str, frame_received: bool, now: float) -> None:
        """The socket closed (or dropped) while we still had work to do."""
        self.account.closed(code, reason, frame_received, overwrite=True)
        announced = self._at_announced_end(now)
        failure = fl.classify(
            fl.ConnectionEnded(code=code, reason=reason, frame_received=frame_received, at_announced_end=announced)
        )
        assert failure is not None
        detail = f"close {code} {reason}".strip() if frame_received else "no close frame received or sent"
        if self._announced_end is not None and self._announced_end.by_go_away and not announced:
            detail += f" ({self._announced_end.at - now:.2f} s before its goAway said)"
        if self.finished:
            return
        if announced and self._resume_after_going_away and self.state is State.THINKING:
            self._fire(Trigger.HAND_OVER, now, Handover.RESUME)
            return
        if failure is FailureClass.SESSION_EXPIRED and self._reconnects_at_cap():
            # The provider's cap: the turn it cut is recorded as cut by the cap (censored), then a fresh session.
            if self.state in TURN_STATES:
                self._record_turn(failure, now, detail)
            self._fire(Trigger.CAP_REACHED, now, Handover.CAP)
            return
        self._fire(Trigger.CONNECTION_ENDED, now, _Ending(failure, detail))

    def on_reconnecting(self, now: float) -> None:
        """A new connection for the conversation the engine handed over: its session must open in time."""
        assert self.awaiting_connection and self.state is State.CONNECTING and self.handover is not None
        self.awaiting_connection = False
        self._setup_deadline = now + self.settings.turn_timeout_s
        self._announced_end = AnnouncedEnd.session_cap(now, self.settings.session_cap_s)
        self.account.reconnected(self.handover)
        self._fresh_session = self.handover.reinjects

    def on_closed_by_us(self, code: int | None, reason: str | None, frame_received: bool) -> None:
        """Record how the socket ended after we closed it (end of script, or after a failure)."""
        self.account.closed(code, reason, frame_received)

    def on_connect_failed(self, http_status: int | None, detail: str, now: float) -> None:
        """The handshake failed before the session existed."""
        failure = fl.classify(fl.HandshakeRejected(http_status))
        assert failure is not None
        self.account.http_status = http_status
        if not self.finished:
            self._fire(Trigger.CONNECT_FAILED, now, _Ending(failure, detail))

    def on_stopped(self, now: float) -> None:
        """Locust stopped the user: the session is censored here, never counted as a failure."""
        code = fl.classify(fl.HarnessStopped())
        assert code is not None
        if not self.finished:
            self._fire(Trigger.STOPPED, now, _Ending(code, "stopped by the load test"))

    # --- outputs ----------------------------------------------------------------------------------------

    def take_intents(self) -> list[Intent]:
        """What to send, in order, since the last call (the I/O loop hands each to the adapter)."""
        out, self._intents = self._intents, []
        return out

    def take_new_turns(self) -> list[TurnRecord]:
        """Turn records finished since the last call (for live stats)."""
        return self.account.take_new_turns()

    def progress(self) -> SessionRecord:
        """The session so far, without its turns: cheap enough to report every second while it runs."""
        return self.account.progress()

    def session_record(self) -> SessionRecord:
        """The record of the whole session (call once finished)."""
        return self.account.session_record()

    # --- actions: the session and the prompt ------------------------------------------------------------

    def _configure(self, now: float, event: object) -> None:
        assert isinstance(event, ev.SessionCreated)
        # A conversation keeps the id of its first session: one logical session, several provider sessions.
        self.account.provider_session(event.session_id)
        self._intents.append(Configure())
        summary = self._memory.summary() if self._memory is not None and self._fresh_session else ""
        if summary:
            self._intents.append(InjectContext(summary))
            self.account.reinjected_chars += len(summary)

    def _start_turn(self, now: float, _: object) -> None:
        index = self._turn.index + 1 if self._turn is not None else 1
        after_rotation, self._fresh_session = self._fresh_session, False
        carrier = self.script.carrier_b64 if self.settings.turn_mode == "server_vad" else ()
        self._turn = TurnInProgress(
            index=index,
            prompt=self.script.prompt_for_turn(index),
            pacer=ChunkPacer(now, self.script.chunk_s, self.settings.pace),
            started_at=now,
            last_event_at=now,
            carrier=carrier,
            after_rotation=after_rotation,
        )
        if self._tape is not None:
            self._tape.begin(index)
        # Answers the server is still giving when this prompt's speech starts are talked over: stopping them then
        # is what a listening server does, never a failure.
        self._others.talked_over(self._turn.speech_starts_at())
        self._send_due_chunks(self._turn, now)

    def _send_due_chunks(self, turn: TurnInProgress, now: float) -> None:
        while (chunk := turn.take_due_chunk(now)) is not None:
            self._intents.append(AppendAudio(chunk))
            if turn.prompt_done and self.state is State.SENDING:
                self._fire(Trigger.PROMPT_SENT, now)

    def _end_prompt(self, now: float, _: object) -> None:
        assert self._turn is not None
        self._turn.prompt_sent(now)
        if self.settings.turn_mode == "manual":
            self._intents += [Commit(), CreateResponse()]

    def _note_speech_stopped(self, now: float, _: object) -> None:
        turn = self._turn
        if turn is not None and turn.speech_end_at is not None and turn.speech_stopped_at is None:
            turn.speech_stopped_at = now  # the server's endpointing of this turn's speech

    def _barge_in_at(self, turn: TurnInProgress) -> float | None:
        response = turn.response
        if response is None or response.first_audio_at is None or not self.settings.barges_in(turn.index):
            return None
        assert self.settings.barge_in_after_s is not None
        return response.first_audio_at + self.settings.barge_in_after_s

    def _barge_in(self, now: float, _: object) -> None:
        """Speak over the answer: the next prompt starts now; the answer is tracked on to its end."""
        turn = self._turn
        assert turn is not None and turn.response is not None
        answer, timing = turn.response, turn.timing(self.settings.turn_mode)
        if self.settings.turn_mode == "manual":
            # Push to talk: no server VAD hears the caller, so the client stops the answer, as an app would.
            self._intents.append(CancelResponse())
        self._start_turn(now, None)
        assert self._turn is not None
        answer.interrupt(self._turn.speech_starts_at())
        self._others.add(answer, timing)
        self.account.barge_ins += 1

    # --- actions: responses -----------------------------------------------------------------------------

    def _new_response(self, response_id: str, now: float, solicited: bool, reason: str | None) -> ResponseInProgress:
        turn = self._turn
        assert turn is not None
        prompt_id, rate = turn.prompt.prompt_id, self.settings.output_rate
        return ResponseInProgress.starting(
            response_id, turn.index, prompt_id, now, self._floor, rate, solicited, reason
        )

    def _start_response(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ResponseCreated) and self._turn is not None
        self._turn.response = self._new_response(event.response_id, now, solicited=True, reason=None)

    def _start_unsolicited(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ResponseCreated)
        reason = {State.SENDING: VAD_SPLIT, State.THINKING: LEFTOVER}.get(self.state, UNKNOWN)
        self._others.add(self._new_response(event.response_id, now, solicited=False, reason=reason), NO_TURN)

    def _count_audio(self, now: float, event: object) -> None:
        assert isinstance(event, ev.AudioDelta) and self._turn is not None
        if self._turn.response is None:  # no response.created came first: this audio starts the answer
            self._turn.response = self._new_response(event.response_id, now, solicited=True, reason=None)
        self._turn.response.count_audio(event.pcm, now)
        if self._tape is not None:
            self._tape.add(event.pcm)

    def _count_other(self, now: float, event: object) -> None:
        """Audio or text of another live response; audio of none (a straggler) counts for the session."""
        assert isinstance(event, ev.AudioDelta | ev.TranscriptDelta | ev.TextDelta)
        self.account.stray_audio(self._others.count(event, now))

    def _count_text(self, now: float, event: object) -> None:
        """The answer's transcript, or text it gave instead of audio (a sub-case of zero audio)."""
        assert isinstance(event, ev.TranscriptDelta | ev.TextDelta) and self._turn is not None
        response = self._turn.response
        if response is not None and isinstance(event, ev.TranscriptDelta):
            response.transcript_chars += len(event.text)
            if self._memory is not None:
                self._transcript.append(event.text)
        elif response is not None:
            response.text_chars += len(event.text)

    def _count_truncation(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ContextTruncated)
        self.account.truncations += 1
        if self._turn is not None:
            self._turn.context_truncated = True
            for response in (self._turn.response,):
                if response is not None and event.audio_end_ms is not None:
                    response.truncated_at_ms = event.audio_end_ms

    def _classify_done(self, response: ResponseInProgress, done: ev.ResponseDone) -> FailureClass | None:
        return response.classify(done, self.settings.silence_floor_dbfs, self.settings.pace.speed or 1.0)

    def _end_response(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ResponseDone) and self._turn is not None
        response = self._turn.response
        if response is None:  # response.done with no created and no audio: an empty answer
            response = self._turn.response = self._new_response(event.response_id, now, solicited=True, reason=None)
        code = self._classify_done(response, event)
        self._end_turn(code, now, response.detail_for(code, event), event)

    def _end_other_response(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ResponseDone)
        other = self._others.pop(event.response_id)
        if other is None:
            return  # a straggler's done: nothing left to book
        response, timing = other
        code = self._classify_done(response, event)
        record = response.record(code, now, response.detail_for(code, event), event, timing, self._wall_offset)
        self.account.turn_ended(record)
        if code in fl.TERMINAL:
            self._end_session(now, _Ending(code, record.detail or str(code)))

    # --- actions: errors, timeouts and ends -------------------------------------------------------------

    def _error_ends_turn(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ServerError)
        code = fl.classify(fl.ErrorReceived(event.code))
        assert code is not None
        self._end_turn(code, now, _error_text(event))

    def _note_error(self, now: float, event: object) -> None:
        # A response is running, the prompt is streaming, or we are between turns: note it and keep going.
        assert isinstance(event, ev.ServerError)
        if self._turn is not None:
            self._turn.detail = _error_text(event)
            if self._turn.response is not None:
                self._turn.response.detail = self._turn.detail

    def _reject_config(self, now: float, event: object) -> None:
        # A rejected session.update leaves the session on its defaults: measuring it would be a lie.
        assert isinstance(event, ev.ServerError)
        code = fl.classify(fl.ConfigurationRejected())
        assert code is not None
        self._end_session(now, _Ending(code, f"session.update rejected: {_error_text(event)}"))

    def _time_out_turn(self, now: float, _: object) -> None:
        assert self._turn is not None
        response = self._turn.response
        first_audio_seen = response is not None and response.first_audio_at is not None
        code = fl.classify(fl.DeadlinePassed(first_audio_seen=first_audio_seen))
        assert code is not None
        waited = "the next event" if first_audio_seen else "first audio"
        detail = f"no {waited} within {self.settings.turn_timeout_s:g} s"
        if self._announced_end is not None and self._announced_end.by_go_away:
            detail += " (the server had sent goAway)"  # and then went silent instead of closing
        self._end_turn(code, now, detail)

    def _end_session(self, now: float, ending: object) -> None:
        """End early: the running turn (if any) ends with the code; otherwise the session does."""
        if isinstance(ending, ev.MalformedMessage):
            code = fl.classify(fl.ProtocolBroken())
            assert code is not None
            ending = _Ending(code, ending.detail)
        if isinstance(ending, ev.ServerError):  # the provider's session cap, said in an error event
            code = fl.classify(fl.ErrorReceived(ending.code, at_announced_end=self._at_announced_end(now)))
            assert code is not None
            ending = _Ending(code, _error_text(ending))
        assert isinstance(ending, _Ending)
        if self._turn is not None and self.state in TURN_STATES:
            self._end_turn(ending.code, now, ending.detail, terminal=True)
            return
        self.account.note_failure(ending.code, self._turn.index + 1 if self._turn else 0, ending.detail)
        self.account.end_class = ending.code
        self._fire(Trigger.SESSION_ENDED, now)

    def _end_turn(
        self,
        code: FailureClass | None,
        now: float,
        detail: str | None,
        done: ev.ResponseDone | None = None,
        terminal: bool = False,
    ) -> None:
        turn = self._turn
        assert turn is not None
        self._record_turn(code, now, detail, done)
        if terminal or code in fl.TERMINAL:
            self.account.end_class = code
            self._fire(Trigger.SESSION_ENDED, now)
        elif self._after_first_failure(turn.index):
            self._fire(Trigger.LAST_TURN_ENDED, now)
        elif self.settings.last_turn(turn.index, now - self.account.started_at):
            self.account.bounded = self.settings.until_failure
            self._fire(Trigger.LAST_TURN_ENDED, now)
        else:
            self._fire(Trigger.TURN_ENDED, now)

    def _record_turn(
        self, code: FailureClass | None, now: float, detail: str | None, done: ev.ResponseDone | None = None
    ) -> None:
        turn = self._turn
        assert turn is not None
        response = turn.response or self._new_response("", now, solicited=True, reason=None)
        if turn.response is not None:
            self._others.ended(turn.response.response_id)
        timing = turn.timing(self.settings.turn_mode)
        self.account.turn_ended(response.record(code, now, detail, done, timing, self._wall_offset))
        if self._tape is not None:
            self._tape.turn_ended(turn.index, failed=self.account.first_failure_turn is not None)
        if self._pacing is not None and code is not FailureClass.HARNESS_STOPPED:
            # A turn the harness cut was cut by the run's end, whose own work (stopping users, the report) can
            # hold the process up: its lag is the harness's, not the generator's under load.
            self._pacing.merge(turn.pacer.lags)
        if self._memory is not None:
            self._memory.remember(turn.index, "".join(self._transcript))
            self._transcript.clear()

    def _after_thinking(self, now: float) -> None:
        """The pause is over: the next turn, or first a new connection (resumption, or a rotation that is due)."""
        if self._resume_after_going_away:
            self._fire(Trigger.HAND_OVER, now, Handover.RESUME)
        elif self.settings.rotation.due(self.account.session_audio_s, self.account.session_turns):
            self._fire(Trigger.HAND_OVER, now, Handover.ROTATE)
        else:
            self._fire(Trigger.THINK_ELAPSED, now)

    def _reconnects_at_cap(self) -> bool:
        turn = self._turn
        return self.settings.reconnect_on_cap and turn is not None and not self.settings.last_turn(turn.index, 0.0)

    def _after_first_failure(self, turn: int) -> bool:
        """Until failure: the session ends one turn after its first failure (a failure that leaves the socket up;
        the next turn shows what the service does after it, as the seed's drop on the next message)."""
        first = self.account.first_failure_turn
        return self.settings.until_failure and first is not None and turn > first

    def _think(self, now: float, _: object) -> None:
        self._think_until = now + self.settings.think_time_s

    def _finish(self, now: float, _: object) -> None:
        self.account.ended_at = now
        # Responses still streaming when the session ended are recorded as cut by its end: their audio counts, and
        # they fail only with the session (a drop), never by being cut short by our own close.
        end = self.account.end_class
        code = end if fl.is_failure(end) else fl.classify(fl.HarnessStopped())
        for response, timing in self._others.drain():
            detail = "the session ended before this response did"
            self.account.turn_ended(response.record(code, now, detail, None, timing, self._wall_offset))

    def _note_going_away(self, now: float, event: object) -> None:
        assert isinstance(event, ev.GoingAway)
        notice = max(event.time_left_s or 0.0, 0.0)  # no time given: the end may come at any moment
        self._announced_end = AnnouncedEnd(now + notice, notice, by_go_away=True)
        self._resume_after_going_away = event.can_resume

    def _hand_over(self, now: float, why: object) -> None:
        assert isinstance(why, Handover)
        self.handover = why
        self._resume_after_going_away = False
        self._announced_end = None
        self.awaiting_connection = True

    def _at_announced_end(self, now: float) -> bool:
        return self._announced_end is not None and self._announced_end.reached(now)


def _error_text(error: ev.ServerError) -> str:
    return f"{error.code or error.type or 'error'}: {error.message}"
