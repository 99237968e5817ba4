"""The tester and the mock without sockets: the engine and the real adapter against the mock's sans-I/O session.

``play`` (``run_in_memory`` for any adapter and mock session) runs ``session.py``'s loop on a fake clock:
intents go to the adapter, its messages to the mock session; the mock's outputs due by now come back through the
adapter as events (a close frame or an abort end the connection, as they would on a socket). The clock jumps
from one deadline to the next, so a session of minutes plays in milliseconds, deterministically.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from s2s_users.core.engine.conversation import Conversation
from s2s_users.core.engine.pacing import Pace
from s2s_users.core.engine.script import Carrier, Script, build_script
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.metrics.records import SessionLabels, SessionRecord
from s2s_users.core.mock.behavior import MockSession
from s2s_users.core.mock.outputs import Abort, CloseWithFrame, Output, Send
from s2s_users.core.mock.profiles import ModelProfile
from s2s_users.core.protocols.base import RealtimeProtocol
from s2s_users.core.protocols.openai_realtime import OpenAIRealtimeProtocol, RealtimeSettings
from s2s_users.core.protocols.openai_wire import SAMPLE_RATE

LABELS = SessionLabels("run-mem", "m", "openai", "marin", "manual", "in-memory", "local")
#: One second of a loud prompt (the mock's VAD hears it), in 100 ms chunks.
PROMPT = (b"\x00\x40" + b"\x00\xc0") * (SAMPLE_RATE // 2)


def script(
    prompt: bytes = PROMPT, chunk_ms: int = 100, trailing_silence_ms: int = 0, carrier: Carrier = Carrier.OFF
) -> Script:
    return build_script([("p1", prompt)], SAMPLE_RATE, chunk_ms, trailing_silence_ms, carrier)


@dataclass
class Played:
    record: SessionRecord
    truth: dict[str, Any]
    """The mock's truth at the end (of the last connection)."""
    client_messages: int
    truths: list[dict[str, Any]] = field(default_factory=list)
    """One truth per connection, in order."""


class MockEnd(Protocol):
    """What the harness needs of a mock session (OpenAI's ``MockSession`` or ``GeminiMockSession``)."""

    end_reason: str

    def outputs_due(self, now: float) -> list[Output]: ...

    def next_due(self) -> float | None: ...

    def receive(self, text: str, now: float) -> None: ...

    def truth(self) -> dict[str, Any]: ...


#: A new connection for a conversation that handed its old one over: the adapter that spoke there in, the next
#: adapter and mock session out.
Reconnect = Callable[[RealtimeProtocol, float], tuple[RealtimeProtocol, MockEnd]]


def play(
    profile: ModelProfile,
    turns: int = 3,
    turn_mode: str = "manual",
    seed: int = 1,
    turn_timeout_s: float = 2.0,
    the_script: Script | None = None,
    max_steps: int = 1_000_000,
    **engine: Any,
) -> Played:
    """One conversation of ``turns`` turns against ``profile``, start to end, on a fake clock; a rotation or a
    reconnect at the cap opens a fresh mock session (a fresh context), as a new connection to the server would."""
    mock = MockSession(profile, time_scale=1.0, seed=seed, now=0.0)
    adapter = OpenAIRealtimeProtocol(RealtimeSettings(turn_mode=turn_mode))
    chosen: dict[str, Any] = {"pace": Pace(1.0), "think_time_s": 0.5, "turn_timeout_s": turn_timeout_s, **engine}
    settings = EngineSettings(turns=turns, turn_mode=turn_mode, **chosen)
    conversation = Conversation(
        the_script or script(), settings, LABELS, now=0.0, wall_offset=1_000.0, counts=adapter.counts
    )
    connections = itertools.count(1)

    def fresh_session(old: RealtimeProtocol, now: float) -> tuple[RealtimeProtocol, MockEnd]:
        new = OpenAIRealtimeProtocol(RealtimeSettings(turn_mode=turn_mode), counts=old.counts)
        return new, MockSession(profile, time_scale=1.0, seed=seed * 1000 + next(connections), now=now)

    return run_in_memory(conversation, adapter, mock, reconnect=fresh_session, max_steps=max_steps)


def run_in_memory(
    conversation: Conversation,
    adapter: RealtimeProtocol,
    mock: MockEnd,
    reconnect: Reconnect | None = None,
    max_steps: int = 1_000_000,
) -> Played:
    """Play ``conversation`` through ``adapter`` against ``mock`` from time 0 to its end, on a fake clock; with
    ``reconnect``, over as many connections as the conversation asks for (every one's truth is kept)."""
    now = 0.0
    sent = 0
    connected = True
    truths: list[dict[str, Any]] = []
    for _ in range(max_steps):
        for output in mock.outputs_due(now) if connected else []:
            match output:
                case Send(text=text):
                    adapter.receive_message(text)
                    for event in adapter.events_received():
                        conversation.handle(event, now)
                case CloseWithFrame(code=code, reason=reason):
                    connected = False
                    conversation.on_connection_ended(code, reason, True, now)
                case Abort():
                    connected = False
                    conversation.on_connection_ended(None, "", False, now)
            if not connected:
                break
        conversation.on_timer(now)
        # What the engine wants sent goes out before any time passes, as session.py sends before it waits.
        for intent in conversation.take_intents():
            adapter.apply(intent)
        for message in adapter.messages_to_send():
            sent += 1
            if connected:
                mock.receive(message, now)
        if conversation.finished:
            break
        if conversation.awaiting_connection and reconnect is not None:
            if connected:  # we close, as session.py does after a hand-over
                conversation.on_closed_by_us(1000, "", True)
                mock.end_reason = "client closed 1000"
            truths.append(mock.truth())
            adapter, mock = reconnect(adapter, now)
            conversation.on_reconnecting(now)
            connected = True
            continue
        due = [t for t in (conversation.next_deadline(), mock.next_due() if connected else None) if t is not None]
        assert due, "nothing is due and the session is not over: it would wait for ever"
        now = max(now, min(due))
    else:
        raise AssertionError(f"the session did not end within {max_steps} steps")
    if connected:  # we close, as session.py does: the mock records the client's close
        conversation.on_closed_by_us(1000, "", True)
        mock.end_reason = "client closed 1000"
    conversation.take_new_turns()
    return Played(conversation.session_record(), mock.truth(), sent, [*truths, mock.truth()])
