"""The turn engine: one scripted multi-turn session as a table-driven state machine.

Pure, as h11's connection is: events from the provider adapter and the current time come in; intents (what to
send) and turn and session records come out. ``session.py`` owns the socket and the waiting: it hands
``take_intents()`` to the adapter and asks ``next_deadline()`` when to call ``on_timer()`` again.

Every move goes through ``TRANSITIONS``, keyed by state and trigger, to the next state and the action that does
the work. A server event that a state does not expect is ignored (servers send what they send); an internal
trigger that the table does not allow is a bug (``IllegalTransition``). The end states are sticky.

The engine decides *when*; its parts know the rest. What a turn or session means (capacity, failures, cost, the
record) is the ``SessionAccount``'s business (account.py); the responses, each tracked to its end and booked, are
``Answers`` (answers.py); the provider connection's life (announced ends, handovers, the summary a fresh session
gets) is ``ConnectionLife`` (lifecycle.py); our side of a turn is ``TurnInProgress`` (turn.py); what is due when
is ``Deadlines`` (timers.py); and how a turn or session ended is always ``failures.classify()``'s call, through
``endings``.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy_extensions import mypyc_attr

from s2s_users.core import events as ev
from s2s_users.core import failures as fl
from s2s_users.core.engine import endings
from s2s_users.core.engine.account import SessionAccount
from s2s_users.core.engine.answers import Answers
from s2s_users.core.engine.endings import Ending
from s2s_users.core.engine.lifecycle import ConnectionLife
from s2s_users.core.engine.rotation import Handover
from s2s_users.core.engine.script import Script
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.engine.table import (
    END_STATES,
    SERVER_TRIGGERS,
    SETUP_STATES,
    TRANSITIONS,
    TRANSITIONS_BY_MODE,
    TURN_STATES,
    Action,
    State,
    Trigger,
    trigger_of,
)
from s2s_users.core.engine.timers import Deadlines
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
from s2s_users.core.metrics.lag import PacingWindow
from s2s_users.core.metrics.records import SessionLabels, SessionRecord, TurnRecord
from s2s_users.core.metrics.tape import AudioTape


@mypyc_attr(native_class=False)  # mypyc (scripts/compile.py) makes native subclasses of Exception only
class IllegalTransition(RuntimeError):
    """The engine tried a move its table does not allow: a bug in the engine, not in the server."""


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
        pacing: PacingWindow | None = None,
        tape: AudioTape | None = None,
    ) -> None:
        """``now`` is the monotonic clock at connect; ``wall_offset`` turns it into epoch seconds for records;
        ``counts`` is the adapter's count of legacy and unknown events, which the record reports; ``pacing`` (the
        process's, shared by its sessions) gets the lag of every chunk of each turn that the harness did not cut and
        that began inside its window;
        ``tape`` (``--record-audio``) gets the audio of each turn's answer, for evidence."""
        self.script = script
        self.settings = settings
        self.labels = labels
        self.state = State.CONNECTING
        self.finished = False
        """The session is over (DONE or ENDED): kept as the state moves, since it is asked on every wake."""
        self.account = SessionAccount.for_engine(settings, labels, now, wall_offset, counts or ev.ProtocolCounts())
        self.connection = ConnectionLife(settings, now)
        self._answers = Answers(settings, self.account, wall_offset, tape, self.connection.memory)
        self._table = TRANSITIONS_BY_MODE.get(settings.turn_mode, TRANSITIONS)
        self._timeout_s = settings.turn_timeout_s
        self._pacing = pacing
        self._turn: TurnInProgress | None = None
        self._deadlines = Deadlines(settings)
        self._intents: list[Intent] = []
        # Each action is carried out by the method of its name (Action.START_TURN: ``_start_turn``).
        self._actions: dict[Action, Callable[[float, object], None]] = {
            action: getattr(self, f"_{action.value}") for action in Action
        }

    @property
    def session_id(self) -> str:
        return self.account.session_id

    @property
    def _turn_index(self) -> int | None:
        return self._turn.index if self._turn is not None else None

    @property
    def awaiting_connection(self) -> bool:
        """The engine let this connection go (announced end, rotation, cap) and waits for the next one."""
        return self.connection.awaiting

    @property
    def handover(self) -> Handover | None:
        """Why the engine let the connection go (while ``awaiting_connection``) or last did."""
        return self.connection.handover

    # --- the table --------------------------------------------------------------------------------------

    def _fire(self, trigger: Trigger, now: float = 0.0, payload: object = None) -> None:
        transition = self._table[self.state].get(trigger)
        if transition is None:
            if trigger in SERVER_TRIGGERS:
                return  # not for this state: servers send what they send
            raise IllegalTransition(f"{trigger.value} is not allowed in state {self.state.value}")
        if transition.next is not None:
            self.state = transition.next
            self.finished = transition.next in END_STATES
        self._actions[transition.action](now, payload)

    # --- inputs -----------------------------------------------------------------------------------------

    def handle(self, event: ev.Event, now: float) -> None:
        """React to one event from the adapter."""
        if self.finished:
            return
        own = self._turn.heard_from_server(now) if self._turn is not None else None
        trigger = trigger_of(event)
        if trigger is Trigger.SERVER_ERROR and self.connection.at_announced_end(now):
            trigger = Trigger.CAP_ERROR  # Azure has been seen ending its capped sessions with a generic server_error
        if trigger is not None:
            self._fire(self._answers.route(trigger, event, own), now, event)

    def on_timer(self, now: float) -> None:
        """Do whatever is due at ``now``: send chunks, end thinking, barge in, enforce deadlines."""
        if self.finished or self.connection.awaiting:
            return  # between connections nothing is due: the next one's set-up deadline starts when it opens
        if self.state not in SETUP_STATES:
            assert self._turn is not None
            self._send_due_chunks(self._turn, now)  # the prompt, or the carrier after it (also while thinking)
        due = self._deadlines.due(now, self.state, self._turn, self._answers, self.connection.setup_deadline)
        if due is not None and due[0] is Trigger.THINK_ELAPSED:
            self._after_thinking(now)
        elif due is not None:
            self._fire(due[0], now, due[1])

    def next_deadline(self) -> float | None:
        """When ``on_timer`` next has something to do (monotonic seconds), or None when finished."""
        if self.finished:
            return None
        return self._deadlines.next(self.state, self._turn, self._answers, self.connection.setup_deadline)

    def on_connection_ended(self, code: int | None, reason: str, frame_received: bool, now: float) -> None:
        """The socket closed (or dropped) while we still had work to do."""
        self.account.closed(code, reason, frame_received, overwrite=True)
        announced = self.connection.at_announced_end(now)
        ending = endings.connection_ended(code, reason, frame_received, announced, self.connection.early_by(now))
        if self.finished:
            return
        if announced and self.connection.resume_offered and self.state is State.THINKING:
            self._fire(Trigger.HAND_OVER, now, Handover.RESUME)
        elif ending.code is FailureClass.SESSION_EXPIRED and self.settings.reconnects_at_cap(self._turn_index):
            # The provider's cap: the turn it cut is recorded as cut by the cap (censored), then a fresh session.
            if self.state in TURN_STATES:
                self._record_turn(ending.code, now, ending.detail)
            self._fire(Trigger.CAP_REACHED, now, Handover.CAP)
        else:
            self._fire(Trigger.CONNECTION_ENDED, now, ending)

    def on_reconnecting(self, now: float) -> None:
        """A new connection for the conversation the engine handed over: its session must open in time."""
        assert self.state is State.CONNECTING
        self.account.reconnected(self.connection.reopened(now))

    def on_closed_by_us(self, code: int | None, reason: str | None, frame_received: bool) -> None:
        """Record how the socket ended after we closed it (end of script, or after a failure)."""
        self.account.closed(code, reason, frame_received)

    def on_connect_failed(self, http_status: int | None, detail: str, now: float) -> None:
        """The handshake failed before the session existed."""
        self.account.http_status = http_status
        if not self.finished:
            self._fire(Trigger.CONNECT_FAILED, now, endings.connect_failed(http_status, detail))

    def on_stopped(self, now: float) -> None:
        """Locust stopped the user: the session is censored here, never counted as a failure."""
        if not self.finished:
            self._fire(Trigger.STOPPED, now, endings.stopped())

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

    def _none(self, now: float, payload: object) -> None:
        pass

    def _configure(self, now: float, event: object) -> None:
        assert isinstance(event, ev.SessionCreated)
        # A conversation keeps the id of its first session: one logical session, several provider sessions.
        self.account.provider_session(event.session_id)
        self._intents.append(Configure())
        summary = self.connection.context_for_new_session()
        if summary:
            self._intents.append(InjectContext(summary))
            self.account.reinjected_chars += len(summary)

    def _start_turn(self, now: float, _: object) -> None:
        index = self._turn.index + 1 if self._turn is not None else 1
        after_rotation = self.connection.first_turn_here()
        self._turn = TurnInProgress.starting(index, self.script, self.settings, now, after_rotation)
        self._answers.turn_started(index, self._turn.speech_starts_at())
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
        if self._turn is not None:
            self._turn.speech_stopped(now)

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
        self._answers.spoken_over(answer, timing, self._turn.speech_starts_at())
        self.account.barge_ins += 1

    # --- actions: responses -----------------------------------------------------------------------------

    def _start_response(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ResponseCreated) and self._turn is not None
        self._answers.start(self._turn, event.response_id, now)

    def _start_unsolicited(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ResponseCreated) and self._turn is not None
        self._answers.unsolicited(self._turn, event.response_id, self.state, now)

    def _count_audio(self, now: float, event: object) -> None:
        assert isinstance(event, ev.AudioDelta) and self._turn is not None
        self._answers.own_audio(self._turn, event, now)

    def _count_other(self, now: float, event: object) -> None:
        assert isinstance(event, ev.AudioDelta | ev.TranscriptDelta | ev.TextDelta)
        self._answers.count_other(event, now)

    def _count_text(self, now: float, event: object) -> None:
        assert isinstance(event, ev.TranscriptDelta | ev.TextDelta) and self._turn is not None
        self._answers.own_text(self._turn, event)

    def _count_truncation(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ContextTruncated)
        self.account.truncations += 1
        if self._turn is not None:
            self._turn.truncated(event.audio_end_ms)

    def _end_response(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ResponseDone) and self._turn is not None
        code, detail = self._answers.own_done(self._turn, event, now)
        self._end_turn(code, now, detail, event)

    def _end_other_response(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ResponseDone)
        ending = self._answers.end_other(event, now)
        if ending is not None:
            self._end_session(now, ending)

    # --- actions: errors, timeouts and ends -------------------------------------------------------------

    def _error_ends_turn(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ServerError)
        ending = endings.error_ends_turn(event)
        self._end_turn(ending.code, now, ending.detail)

    def _note_error(self, now: float, event: object) -> None:
        # A response is running, the prompt is streaming, or we are between turns: note it and keep going.
        assert isinstance(event, ev.ServerError)
        if self._turn is not None:
            self._turn.detail = endings.error_text(event)
            if self._turn.response is not None:
                self._turn.response.detail = self._turn.detail

    def _reject_config(self, now: float, event: object) -> None:
        assert isinstance(event, ev.ServerError)
        self._end_session(now, endings.configuration_rejected(event))

    def _time_out_turn(self, now: float, _: object) -> None:
        assert self._turn is not None
        response = self._turn.response
        seen = response is not None and response.first_audio_at is not None
        ending = endings.turn_timed_out(seen, self._timeout_s, after_go_away=self.connection.went_away)
        self._end_turn(ending.code, now, ending.detail)

    def _end_session(self, now: float, why: object) -> None:
        """End early: the running turn (if any) ends with the code; otherwise the session does."""
        if isinstance(why, ev.MalformedMessage | ev.ServerError):
            why = endings.server_ended(why, self.connection.at_announced_end(now))
        assert isinstance(why, Ending)
        if self._turn is not None and self.state in TURN_STATES:
            self._end_turn(why.code, now, why.detail, terminal=True)
            return
        self.account.note_failure(why.code, self._turn.index + 1 if self._turn else 0, why.detail)
        self.account.end_class = why.code
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
        elif self.settings.ends_after_failure(turn.index, self.account.first_failure_turn):
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
        self._answers.book_turn(turn, code, now, detail, turn.timing(self.settings.turn_mode), done)
        if self._pacing is not None and code is not FailureClass.HARNESS_STOPPED:
            # A turn the harness cut was cut by the run's end, whose own work (stopping users, the report) can
            # hold the process up: its lag is the harness's, not the generator's under load.
            self._pacing.add_turn(turn.pacer.t0, turn.pacer.lags)

    def _after_thinking(self, now: float) -> None:
        """The pause is over: the next turn, or first a new connection (resumption, or a rotation that is due)."""
        if self.connection.resume_offered:
            self._fire(Trigger.HAND_OVER, now, Handover.RESUME)
        elif self.settings.rotation.due(self.account.session_audio_s, self.account.session_turns):
            self._fire(Trigger.HAND_OVER, now, Handover.ROTATE)
        else:
            self._fire(Trigger.THINK_ELAPSED, now)

    def _think(self, now: float, _: object) -> None:
        self._deadlines.pause(now)

    def _finish(self, now: float, _: object) -> None:
        self.account.ended_at = now
        # Responses still streaming when the session ended are recorded as cut by its end: their audio counts, and
        # they fail only with the session (a drop), never by being cut short by our own close.
        end = self.account.end_class
        self._answers.cut_by_end(end if fl.is_failure(end) else endings.stopped().code, now)

    def _note_going_away(self, now: float, event: object) -> None:
        assert isinstance(event, ev.GoingAway)
        self.connection.going_away(event, now)

    def _hand_over(self, now: float, why: object) -> None:
        assert isinstance(why, Handover)
        self.connection.let_go(why)
