"""The turn engine's table: states, triggers, and for each (state, trigger) the next state and the action.

Read it as h11's ``_state.py``: the whole protocol of a scripted session on one page. ``trigger_of`` says which
trigger a server event pulls; ``Conversation`` (conversation.py) fires triggers and carries out the actions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from s2s_users.core import events as ev
from s2s_users.core import failures as fl
from s2s_users.core.failures import FailureClass


class State(enum.Enum):
    # Members are singletons compared by identity; Enum's own __hash__ hashes the name in Python, and the engine
    # looks states, triggers and actions up on every event and wake.
    __hash__ = object.__hash__

    CONNECTING = "connecting"  # socket open, waiting for the server's session.created
    CONFIGURING = "configuring"  # session.update sent, waiting for session.updated
    SENDING = "sending"  # streaming the user's prompt
    AWAITING = "awaiting"  # prompt done, no response yet
    RECEIVING = "receiving"  # a response is running
    THINKING = "thinking"  # pause between turns
    DONE = "done"  # every planned turn played
    ENDED = "ended"  # ended early: failure, session cap, or harness stop


class Trigger(enum.Enum):
    __hash__ = object.__hash__  # as State's

    # from the server, through the adapter's neutral events (see ``trigger_of``)
    SESSION_CREATED = "session_created"
    SESSION_UPDATED = "session_updated"
    RESPONSE_CREATED = "response_created"
    AUDIO = "audio"
    TRANSCRIPT = "transcript"
    TEXT = "text"
    RESPONSE_DONE = "response_done"
    SERVER_ERROR = "server_error"
    CONFIG_REJECTED = "config_rejected"
    CAP_ERROR = "cap_error"
    TRUNCATED = "truncated"
    MALFORMED = "malformed"
    SPEECH_STOPPED = "speech_stopped"
    # events of a response other than the turn's own (``Conversation`` routes them by response id)
    OTHER_AUDIO = "other_audio"
    OTHER_TEXT = "other_text"
    OTHER_RESPONSE_DONE = "other_response_done"
    GOING_AWAY = "going_away"
    # from the clock and from the engine itself
    PROMPT_SENT = "prompt_sent"
    THINK_ELAPSED = "think_elapsed"
    SETUP_TIMEOUT = "setup_timeout"
    TURN_TIMEOUT = "turn_timeout"
    OTHER_TIMEOUT = "other_timeout"
    BARGE_IN = "barge_in"
    TURN_ENDED = "turn_ended"
    LAST_TURN_ENDED = "last_turn_ended"
    SESSION_ENDED = "session_ended"
    HAND_OVER = "hand_over"
    # from the I/O loop
    CAP_REACHED = "cap_reached"
    CONNECTION_ENDED = "connection_ended"
    CONNECT_FAILED = "connect_failed"
    STOPPED = "stopped"


SERVER_TRIGGERS = frozenset(
    {
        Trigger.SESSION_CREATED,
        Trigger.SESSION_UPDATED,
        Trigger.RESPONSE_CREATED,
        Trigger.AUDIO,
        Trigger.TRANSCRIPT,
        Trigger.TEXT,
        Trigger.RESPONSE_DONE,
        Trigger.SERVER_ERROR,
        Trigger.CONFIG_REJECTED,
        Trigger.CAP_ERROR,
        Trigger.TRUNCATED,
        Trigger.MALFORMED,
        Trigger.SPEECH_STOPPED,
        Trigger.OTHER_AUDIO,
        Trigger.OTHER_TEXT,
        Trigger.OTHER_RESPONSE_DONE,
        Trigger.GOING_AWAY,
        Trigger.CONNECTION_ENDED,
    }
)


class Action(enum.Enum):
    __hash__ = object.__hash__  # as State's

    NONE = "none"
    CONFIGURE = "configure"
    START_TURN = "start_turn"
    END_PROMPT = "end_prompt"
    START_RESPONSE = "start_response"
    START_UNSOLICITED = "start_unsolicited"
    COUNT_AUDIO = "count_audio"
    COUNT_OTHER = "count_other"
    END_OTHER_RESPONSE = "end_other_response"
    NOTE_SPEECH_STOPPED = "note_speech_stopped"
    BARGE_IN = "barge_in"
    COUNT_TEXT = "count_text"
    COUNT_TRUNCATION = "count_truncation"
    END_RESPONSE = "end_response"
    ERROR_ENDS_TURN = "error_ends_turn"
    NOTE_ERROR = "note_error"
    REJECT_CONFIG = "reject_config"
    END_SESSION = "end_session"
    TIME_OUT_TURN = "time_out_turn"
    THINK = "think"
    FINISH = "finish"
    NOTE_GOING_AWAY = "note_going_away"
    HAND_OVER = "hand_over"


@dataclass(frozen=True, slots=True)
class Transition:
    """Where a trigger leads (``None``: the state stays) and what it does there."""

    next: State | None
    action: Action


_LIVE = (State.CONNECTING, State.CONFIGURING, State.SENDING, State.AWAITING, State.RECEIVING, State.THINKING)
TURN_STATES = frozenset({State.SENDING, State.AWAITING, State.RECEIVING})
SETUP_STATES = frozenset({State.CONNECTING, State.CONFIGURING})
END_STATES = frozenset({State.DONE, State.ENDED})
"""Sticky: no trigger leaves them."""


def _table() -> dict[State, dict[Trigger, Transition]]:
    stay: State | None = None  # typed: mypyc (scripts/compile.py) needs more than None to go on
    table: dict[State, dict[Trigger, Transition]] = {state: {} for state in State}
    table[State.CONNECTING][Trigger.SESSION_CREATED] = Transition(State.CONFIGURING, Action.CONFIGURE)
    table[State.CONFIGURING][Trigger.SESSION_UPDATED] = Transition(State.SENDING, Action.START_TURN)
    table[State.SENDING][Trigger.PROMPT_SENT] = Transition(State.AWAITING, Action.END_PROMPT)
    # The turn's answer: the first response once the prompt is out (manual: our commit; server VAD: its speech,
    # the trailing silence may still be streaming). Some servers never send response.created: the first audio
    # starts the response as well.
    table[State.AWAITING][Trigger.RESPONSE_CREATED] = Transition(State.RECEIVING, Action.START_RESPONSE)
    table[State.AWAITING][Trigger.AUDIO] = Transition(State.RECEIVING, Action.COUNT_AUDIO)
    table[State.RECEIVING][Trigger.AUDIO] = Transition(stay, Action.COUNT_AUDIO)
    # Any other response the server starts is tracked to its end all the same, and its audio counts; audio that
    # belongs to no live response (a straggler of one already done) is counted for the session, never for a turn.
    for state in (State.SENDING, State.RECEIVING, State.THINKING):
        table[state][Trigger.RESPONSE_CREATED] = Transition(stay, Action.START_UNSOLICITED)
    for state in (State.SENDING, State.AWAITING, State.RECEIVING, State.THINKING):
        table[state][Trigger.OTHER_AUDIO] = Transition(stay, Action.COUNT_OTHER)
        table[state][Trigger.OTHER_TEXT] = Transition(stay, Action.COUNT_OTHER)
        table[state][Trigger.OTHER_RESPONSE_DONE] = Transition(stay, Action.END_OTHER_RESPONSE)
        table[state][Trigger.OTHER_TIMEOUT] = Transition(stay, Action.END_SESSION)
        table[state][Trigger.SPEECH_STOPPED] = Transition(stay, Action.NOTE_SPEECH_STOPPED)
    # No answer to this turn can exist while its prompt streams: such audio is another response's or a straggler
    # (counted for the turn, it made a negative TTFA and could hide a zero-audio answer).
    table[State.SENDING][Trigger.AUDIO] = Transition(stay, Action.COUNT_OTHER)
    # A caller who speaks over the answer: the next prompt starts while this one is still being answered.
    table[State.RECEIVING][Trigger.BARGE_IN] = Transition(State.SENDING, Action.BARGE_IN)
    for state in TURN_STATES:
        table[state][Trigger.TRANSCRIPT] = Transition(stay, Action.COUNT_TEXT)
        table[state][Trigger.TEXT] = Transition(stay, Action.COUNT_TEXT)
    for state in (State.AWAITING, State.RECEIVING):
        table[state][Trigger.RESPONSE_DONE] = Transition(stay, Action.END_RESPONSE)
        table[state][Trigger.TURN_TIMEOUT] = Transition(stay, Action.TIME_OUT_TURN)
        table[state][Trigger.TURN_ENDED] = Transition(State.THINKING, Action.THINK)
        table[state][Trigger.LAST_TURN_ENDED] = Transition(State.DONE, Action.FINISH)
    table[State.THINKING][Trigger.THINK_ELAPSED] = Transition(State.SENDING, Action.START_TURN)
    # The server announced the end of this connection and the conversation can resume on a new one: between
    # turns, instead of the next turn, the engine lets this connection go and waits for the next session.
    # So does a rotation that is due (--rotate-after): a fresh session, told a summary of the conversation so far.
    table[State.THINKING][Trigger.HAND_OVER] = Transition(State.CONNECTING, Action.HAND_OVER)
    # The provider's cap ended the connection (--reconnect-on-cap): the cut turn is recorded, then a fresh session.
    for state in (*TURN_STATES, State.THINKING):
        table[state][Trigger.CAP_REACHED] = Transition(State.CONNECTING, Action.HAND_OVER)
    # Errors: before the session is configured, any error means it was not; later, it depends on the state.
    for state in (State.CONNECTING, State.CONFIGURING):
        for trigger in (Trigger.SERVER_ERROR, Trigger.CONFIG_REJECTED, Trigger.CAP_ERROR):
            table[state][trigger] = Transition(stay, Action.REJECT_CONFIG)
        table[state][Trigger.SETUP_TIMEOUT] = Transition(stay, Action.END_SESSION)
    table[State.AWAITING][Trigger.SERVER_ERROR] = Transition(stay, Action.ERROR_ENDS_TURN)
    for state in (State.SENDING, State.RECEIVING, State.THINKING):
        table[state][Trigger.SERVER_ERROR] = Transition(stay, Action.NOTE_ERROR)
    for state in (State.SENDING, State.AWAITING, State.RECEIVING, State.THINKING):
        table[state][Trigger.CONFIG_REJECTED] = Transition(stay, Action.REJECT_CONFIG)
        table[state][Trigger.CAP_ERROR] = Transition(stay, Action.END_SESSION)
    # Any live state may end the session (failure, cap, harness stop); DONE and ENDED are sticky.
    for state in _LIVE:
        table[state][Trigger.TRUNCATED] = Transition(stay, Action.COUNT_TRUNCATION)
        table[state][Trigger.GOING_AWAY] = Transition(stay, Action.NOTE_GOING_AWAY)
        for trigger in (Trigger.MALFORMED, Trigger.CONNECTION_ENDED, Trigger.STOPPED):
            table[state][trigger] = Transition(stay, Action.END_SESSION)
        table[state][Trigger.SESSION_ENDED] = Transition(State.ENDED, Action.FINISH)
    table[State.CONNECTING][Trigger.CONNECT_FAILED] = Transition(stay, Action.END_SESSION)
    return table


#: One table serves both turn modes: what differs (who ends the prompt, the carrier) is in the actions.
TRANSITIONS = _table()
TRANSITIONS_BY_MODE = {"manual": TRANSITIONS, "server_vad": TRANSITIONS}


def trigger_of(event: ev.Event) -> Trigger | None:
    """The trigger a server event pulls; None for events that carry nothing for the engine."""
    match event:
        case ev.SessionCreated():
            return Trigger.SESSION_CREATED
        case ev.SessionUpdated():
            return Trigger.SESSION_UPDATED
        case ev.ResponseCreated():
            return Trigger.RESPONSE_CREATED
        case ev.AudioDelta():
            return Trigger.AUDIO
        case ev.TranscriptDelta():
            return Trigger.TRANSCRIPT
        case ev.TextDelta():
            return Trigger.TEXT
        case ev.ResponseDone():
            return Trigger.RESPONSE_DONE
        case ev.ServerError(about_configuration=True):
            return Trigger.CONFIG_REJECTED
        case ev.ServerError(code=code) if fl.classify(fl.ErrorReceived(code)) is FailureClass.SESSION_EXPIRED:
            return Trigger.CAP_ERROR
        case ev.ServerError():
            return Trigger.SERVER_ERROR
        case ev.ContextTruncated():
            return Trigger.TRUNCATED
        case ev.SpeechStopped():
            return Trigger.SPEECH_STOPPED
        case ev.MalformedMessage():
            return Trigger.MALFORMED
        case ev.GoingAway():
            return Trigger.GOING_AWAY
    return None  # known-but-quiet or unknown (the adapter counts those)
