"""The one I/O loop: a WebSocket client (``transport``) driving an adapter and the turn engine.

This is the only module that drives the socket and the only place that waits (inside ``poll(timeout)``,
which under Locust's gevent monkey-patching yields to other users). It is also the one boundary where
library exceptions become taxonomy observations (``_map_errors``), as httpx does with httpcore's.
"""

from __future__ import annotations

import contextlib
import errno
import math
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Protocol

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidProxy, InvalidStatus, InvalidURI

from s2s_users.core import events as ev
from s2s_users.core.engine.conversation import Conversation
from s2s_users.core.engine.rotation import Handover
from s2s_users.core.engine.table import State
from s2s_users.core.metrics.flight import FlightRecorder
from s2s_users.core.metrics.records import SessionRecord, TurnRecord
from s2s_users.core.preflight import HandshakeOutcome, Problem, hint, status_advice
from s2s_users.core.protocols.base import RealtimeProtocol
from s2s_users.core.protocols.openai_realtime import ConnectRequest
from s2s_users.core.redact import redact_url
from s2s_users.io.pump import Connection, HandBack, Pump
from s2s_users.io.transport import DEFAULT_TRANSPORT, TransportOptions, WebSocket

Clock = Callable[[], float]
#: The next connection of a conversation that handed its connection over (the adapter that spoke there in).
Reconnect = Callable[[RealtimeProtocol, Handover], tuple[ConnectRequest, RealtimeProtocol]]


class Evidence(Protocol):
    """What a session keeps of itself beyond its record (``io/evidence.py``): its wire trail and audio."""

    flight: FlightRecorder

    def turn_ended(self, turn: TurnRecord) -> None:
        """A turn's record is final (``--record-audio all`` writes its audio now)."""

    def session_ended(self, record: SessionRecord) -> SessionRecord:
        """Write what the session's end calls for; the record with the files it wrote (``evidence``)."""


def explain_rejection(http_status: int | None, url: str, detail: str) -> str:
    """One line saying why the handshake failed and what to do."""
    if http_status is None:
        return f"cannot connect to {url}: {detail}"
    return f"HTTP {http_status} from {url}: {status_advice(http_status)}"


def handshake_outcome(exc: BaseException) -> HandshakeOutcome:
    """A failed handshake, typed: library and OS errors → ``Problem`` (and the HTTP status), never their text
    when it may repeat the URL (which can hold a key)."""
    if isinstance(exc, InvalidStatus):
        return HandshakeOutcome(Problem.HTTP_STATUS, exc.response.status_code)
    if isinstance(exc, InvalidURI):
        return HandshakeOutcome(Problem.BAD_URL, None, exc.msg)
    if isinstance(exc, InvalidProxy):
        return HandshakeOutcome(Problem.PROXY, None, exc.msg)
    if isinstance(exc, InvalidHandshake):  # proxy errors (407 ...) are handshake errors
        return HandshakeOutcome(Problem.OTHER, None, str(exc))
    if isinstance(exc, socket.gaierror):
        return HandshakeOutcome(Problem.DNS, None, str(exc))
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return HandshakeOutcome(Problem.TLS, None, str(exc))
    if isinstance(exc, ConnectionRefusedError):
        return HandshakeOutcome(Problem.REFUSED, None, str(exc))
    if isinstance(exc, TimeoutError):
        return HandshakeOutcome(Problem.TIMEOUT, None, str(exc) or "timed out")
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return HandshakeOutcome(Problem.UNREACHABLE, None, str(exc))
    return HandshakeOutcome(Problem.OTHER, None, str(exc) or type(exc).__name__)


def _rejection_detail(outcome: HandshakeOutcome, url: str) -> str:
    if outcome.problem is Problem.HTTP_STATUS:
        return explain_rejection(outcome.http_status, url, "")
    return explain_rejection(None, url, hint(outcome))


def preflight(request: ConnectRequest, transport: TransportOptions = DEFAULT_TRANSPORT) -> HandshakeOutcome:
    """One handshake with the target, closed at once with 1000: what a session's connection would meet."""
    try:
        ws = WebSocket.connect(request.url, request.headers, transport)
    except (InvalidHandshake, InvalidURI, InvalidProxy, OSError, TimeoutError) as exc:
        return handshake_outcome(exc)
    with contextlib.suppress(Exception):
        ws.close(code=1000)
    return HandshakeOutcome()


# What websockets sends when it fails the connection over the server's bytes (RFC 6455 §7.4.1): 1002 protocol
# error (not a frame, a bad opcode or close frame), 1007 invalid data (a close reason that is not UTF-8), 1009
# message too big (a frame declared over max_size, refused at its header rather than buffered).
_SERVER_BROKE_THE_PROTOCOL = frozenset({1002, 1007, 1009})


def _protocol_failure(exc: ConnectionClosed) -> str | None:
    """Why we failed the connection, when it was the server's bytes (no close frame came from it)."""
    sent = exc.sent
    if exc.rcvd is None and sent is not None and sent.code in _SERVER_BROKE_THE_PROTOCOL:
        return f"we closed: {sent.code} {sent.reason}".strip()
    return None


def _closed(exc: ConnectionClosed) -> tuple[int | None, str, bool]:
    """(code, reason, frame_received): ``rcvd is None`` means no close frame came (clients call it 1006)."""
    if exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason, True
    if exc.sent is not None and exc.sent.code == 1011:
        return None, f"we closed: {exc.sent.reason} (no pong from the server)", False
    return None, "", False


@contextlib.contextmanager
def _map_errors(
    conversation: Conversation, clock: Clock, url: str, flight: FlightRecorder | None = None
) -> Iterator[None]:
    """The exception boundary: websockets/OS errors → engine observations (then taxonomy codes).

    Before ``session.created`` a failure is a rejected connection; after it, a transport failure. The flight
    recorder hears of each by its kind only (exception texts may repeat the URL).
    """

    def note(kind: str, text: str) -> None:
        if flight is not None:
            flight.connection(kind, clock(), text)

    try:
        yield
    except (InvalidHandshake, InvalidURI, InvalidProxy) as exc:
        outcome = handshake_outcome(exc)
        status = outcome.http_status
        # By kind and status only: exception texts repeat the URL, which may hold a key or a password.
        note(
            "handshake.rejected" if status is not None else "handshake.failed",
            f"HTTP {status}" if status else type(exc).__name__,
        )
        conversation.on_connect_failed(status, _rejection_detail(outcome, url), clock())
    except ConnectionClosed as exc:
        broken = _protocol_failure(exc)
        if broken is not None:
            note("closed", f"no close frame from the server; {broken}")
            # A malformed message, one layer down: the engine ends the session as protocol.unexpected.
            conversation.on_closed_by_us(None, broken, False)
            conversation.handle(ev.MalformedMessage(broken), clock())
        else:
            code, reason, frame = _closed(exc)
            note("closed", f"close frame {code} {reason}".strip() if frame else f"no close frame {reason}".strip())
            conversation.on_connection_ended(code, reason, frame, clock())
    except (OSError, TimeoutError) as exc:
        errno_text = f" errno {exc.errno}" if isinstance(exc, OSError) and exc.errno is not None else ""
        note("error", f"no close frame: {type(exc).__name__}{errno_text}")
        if conversation.state is State.CONNECTING and not conversation.session_id:
            outcome = handshake_outcome(exc)
            conversation.on_connect_failed(None, _rejection_detail(outcome, url), clock())
        else:
            conversation.on_connection_ended(None, str(exc) or type(exc).__name__, False, clock())


def run_session(
    request: ConnectRequest,
    adapter: RealtimeProtocol,
    conversation: Conversation,
    on_turn: Callable[[TurnRecord], None],
    on_session: Callable[[SessionRecord], None],
    transport: TransportOptions = DEFAULT_TRANSPORT,
    clock: Clock = time.monotonic,
    reconnect: Reconnect | None = None,
    evidence: Evidence | None = None,
    pump: Pump | None = None,
) -> SessionRecord:
    """Play one conversation over one WebSocket, ``adapter`` speaking the provider's protocol; report turns as they
    end and the session at its end.

    When the engine lets the connection go between turns (Gemini's goAway with a resumption handle, a rotation, the
    provider's cap with reconnects on), it is closed, and ``reconnect`` gives the next one (resumed or fresh, as
    the engine's ``handover`` says), over which the same conversation goes on. One logical session, one record.

    ``on_session`` is called exactly once, also when the caller's greenlet is killed (Locust stop): the
    session is then recorded as ``harness.stopped`` before the kill goes on.

    ``pump`` (``io/pump.py``), when given, drives each open connection with the process's others; this greenlet
    waits meanwhile, and keeps connecting, closing and this exception boundary. Without it, its own loop does.

    ``evidence`` keeps the session's wire trail (its flight recorder hears every message and what happened to the
    connection) and its audio; it writes them when the session ends, as its record says.
    """
    ws: WebSocket | None = None
    flight = evidence.flight if evidence is not None else None
    if evidence is not None:
        on_turn = _also(on_turn, evidence.turn_ended)
    try:
        while True:
            with _map_errors(conversation, clock, redact_url(request.url.split("?")[0]), flight):
                ws = WebSocket.connect(request.url, request.headers, transport)
                if flight is not None:
                    flight.connection("handshake.ok", clock())
                try:
                    _drive(ws, adapter, conversation, on_turn, clock, flight, pump)
                except Exception:
                    ws.abort()  # the connection failed: nothing to say to the server
                    raise
                _close(ws, conversation, flight, clock)
            if not conversation.awaiting_connection:
                break
            assert reconnect is not None and conversation.handover is not None, "the caller cannot reconnect"
            request, adapter = reconnect(adapter, conversation.handover)
            conversation.on_reconnecting(clock())
    except BaseException:
        # GreenletExit (Locust stopping the user), KeyboardInterrupt or a bug: the session is cut short here.
        conversation.on_stopped(clock())
        if ws is not None:
            _close(ws, conversation, flight, clock)
        _report(conversation, on_turn, on_session, evidence, clock)
        raise
    return _report(conversation, on_turn, on_session, evidence, clock)


def _also(first: Callable[[TurnRecord], None], then: Callable[[TurnRecord], None]) -> Callable[[TurnRecord], None]:
    def both(turn: TurnRecord) -> None:
        first(turn)
        then(turn)

    return both


def _send(
    ws: WebSocket, adapter: RealtimeProtocol, conversation: Conversation, flight: FlightRecorder | None, clock: Clock
) -> None:
    if flight is None:
        for intent in conversation.take_intents():
            adapter.apply(intent)
        for message in adapter.messages_to_send():
            ws.send(message)
        return
    # Message by message, so that each is named by the intent it carries out (none: the adapter's own, as setup).
    now = clock()
    for message in adapter.messages_to_send():
        ws.send(message)
        flight.sent(None, len(message), now)
    for intent in conversation.take_intents():
        adapter.apply(intent)
        for message in adapter.messages_to_send():
            ws.send(message)
            flight.sent(intent, len(message), now)


def _drive(
    ws: WebSocket,
    adapter: RealtimeProtocol,
    conversation: Conversation,
    on_turn: Callable[[TurnRecord], None],
    clock: Clock,
    flight: FlightRecorder | None = None,
    pump: Pump | None = None,
) -> None:
    """Play the conversation over ``ws`` until it finishes or lets the connection go: in ``pump`` (with the
    process's other connections) or in this greenlet's own loop, the same steps either way."""
    if conversation.finished or conversation.awaiting_connection:
        return
    step = partial(_step, ws, adapter, conversation, on_turn, clock, flight)
    hear = partial(_hear, adapter, conversation, flight)
    if pump is not None:
        try:
            pump.drive(Connection(ws, conversation, step, hear))
            return
        except HandBack:
            ws.go_blocking()  # what the pump could not do without waiting, this loop does
    seen_at = -math.inf  # the latest time the conversation was given: its time never goes back
    while not conversation.finished and not conversation.awaiting_connection:
        deadline = step()
        timeout = None if deadline is None else max(0.0, deadline - clock())
        data = ws.poll(timeout)  # None at the deadline: most wakes at 20 ms chunks, so no exception for them
        now = clock()
        if data is not None:
            seen_at = ws.arrival(now, seen_at)  # when it reached this machine (the kernel's stamp)
            hear(data, seen_at)
        # Before its deadline the timer has nothing to do; what a message made due sooner, the next deadline says.
        if data is None or (deadline is not None and now >= deadline):
            conversation.on_timer(now)
            seen_at = now


def _step(
    ws: WebSocket,
    adapter: RealtimeProtocol,
    conversation: Conversation,
    on_turn: Callable[[TurnRecord], None],
    clock: Clock,
    flight: FlightRecorder | None,
) -> float | None:
    """Send what the conversation wants sent and report the turns that ended; its next deadline."""
    _send(ws, adapter, conversation, flight, clock)
    for turn in conversation.take_new_turns():
        on_turn(turn)
    return conversation.next_deadline()


def _hear(
    adapter: RealtimeProtocol, conversation: Conversation, flight: FlightRecorder | None, data: str, now: float
) -> None:
    """One message from the server, to the conversation as events."""
    adapter.receive_message(data)
    events = adapter.events_received()
    if flight is not None:
        flight.received(events, len(data), now)
    for event in events:
        conversation.handle(event, now)


def _close(
    ws: WebSocket, conversation: Conversation, flight: FlightRecorder | None = None, clock: Clock = time.monotonic
) -> None:
    """Close with 1000 (a no-op when the socket is already gone) and note what the server sent back."""
    with contextlib.suppress(Exception):
        ws.close(code=1000)
    rcvd = ws.close_rcvd
    if flight is not None:
        answer = f"close frame {rcvd.code} {rcvd.reason}".strip() if rcvd is not None else "no close frame"
        flight.connection("closed.by_us", clock(), f"we sent 1000; the server: {answer}")
    conversation.on_closed_by_us(
        rcvd.code if rcvd is not None else None, rcvd.reason if rcvd is not None else None, rcvd is not None
    )


def _report(
    conversation: Conversation,
    on_turn: Callable[[TurnRecord], None],
    on_session: Callable[[SessionRecord], None],
    evidence: Evidence | None = None,
    clock: Clock = time.monotonic,
) -> SessionRecord:
    for turn in conversation.take_new_turns():
        on_turn(turn)
    record = conversation.session_record()
    if evidence is not None:
        failure = (
            f", first failure {record.failure_class} at turn {record.failure_turn}" if record.failure_class else ""
        )
        ended_by = f", ended by {record.end_class}" if record.end_class else ""
        evidence.flight.connection("session.end", clock(), f"{record.outcome}{failure}{ended_by}")
        record = evidence.session_ended(record)
    on_session(record)
    return record
