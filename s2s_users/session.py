"""The one I/O loop: a ``websockets.sync`` client driving an adapter and the turn engine.

This is the only module that touches the socket and the only place that waits (inside ``recv(timeout)``,
which under Locust's gevent monkey-patching yields to other users). It is also the one boundary where
library exceptions become taxonomy observations (``_map_errors``), as httpx does with httpcore's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from s2s_users.engine.conversation import Conversation, State
from s2s_users.metrics.records import SessionRecord, TurnRecord
from s2s_users.protocols.openai_realtime import ConnectRequest

Clock = Callable[[], float]

_HTTP_HINTS = {
    401: "the API key was refused: set OPENAI_API_KEY (or --s2s-api-key) to a valid key",
    403: "the key has no access to this model or endpoint",
    404: "no realtime endpoint or model there: check --s2s-url and --s2s-model",
    429: "rate limited: lower the number of users or ask the provider for more concurrent sessions",
}


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """WebSocket client settings; chosen on purpose (see DESIGN §8), not library defaults."""

    open_timeout_s: float = 15.0
    ping_interval_s: float | None = 20.0
    # Generous: a starved load generator must not pass for a dead provider (1011 keepalive timeout).
    ping_timeout_s: float | None = 60.0
    close_timeout_s: float = 5.0
    max_size: int = 32 * 1024 * 1024


def explain_rejection(http_status: int | None, url: str, detail: str) -> str:
    """One line saying why the handshake failed and what to do."""
    if http_status is None:
        return f"cannot connect to {url}: {detail}"
    hint = _HTTP_HINTS.get(http_status, "the server refused the session" if http_status < 500 else "server error")
    return f"HTTP {http_status} from {url}: {hint}"


def _closed(exc: ConnectionClosed) -> tuple[int | None, str, bool]:
    """(code, reason, frame_received): ``rcvd is None`` means no close frame came (clients call it 1006)."""
    if exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason, True
    if exc.sent is not None and exc.sent.code == 1011:
        return None, f"we closed: {exc.sent.reason} (no pong from the server)", False
    return None, "", False


@contextlib.contextmanager
def _map_errors(conversation: Conversation, clock: Clock, url: str) -> Iterator[None]:
    """The exception boundary: websockets/OS errors → engine observations (then taxonomy codes).

    Before ``session.created`` a failure is a rejected connection; after it, a transport failure.
    """
    try:
        yield
    except InvalidStatus as exc:
        status = exc.response.status_code
        conversation.on_connect_failed(status, explain_rejection(status, url, ""), clock())
    except (InvalidURI, InvalidHandshake) as exc:
        conversation.on_connect_failed(None, explain_rejection(None, url, str(exc)), clock())
    except ConnectionClosed as exc:
        code, reason, frame = _closed(exc)
        conversation.on_connection_ended(code, reason, frame, clock())
    except (OSError, TimeoutError) as exc:
        detail = str(exc) or type(exc).__name__
        if conversation.state is State.CONNECTING and not conversation.session_id:
            conversation.on_connect_failed(None, explain_rejection(None, url, detail), clock())
        else:
            conversation.on_connection_ended(None, detail, False, clock())


def run_session(
    request: ConnectRequest,
    conversation: Conversation,
    on_turn: Callable[[TurnRecord], None],
    on_session: Callable[[SessionRecord], None],
    transport: TransportOptions = TransportOptions(),
    clock: Clock = time.monotonic,
) -> SessionRecord:
    """Play one conversation over one WebSocket; report turns as they end and the session at its end.

    ``on_session`` is called exactly once, also when the caller's greenlet is killed (Locust stop): the
    session is then recorded as ``harness.stopped`` before the kill goes on.
    """
    ws: ClientConnection | None = None
    try:
        with _map_errors(conversation, clock, request.url.split("?")[0]):
            with connect(
                request.url,
                additional_headers=request.headers,
                open_timeout=transport.open_timeout_s,
                ping_interval=transport.ping_interval_s,
                ping_timeout=transport.ping_timeout_s,
                close_timeout=transport.close_timeout_s,
                max_size=transport.max_size,
                compression=None,
            ) as ws:
                _drive(ws, conversation, on_turn, clock)
                _close(ws, conversation)
    except BaseException:
        # GreenletExit (Locust stopping the user), KeyboardInterrupt or a bug: the session is cut short here.
        conversation.on_stopped(clock())
        if ws is not None:
            _close(ws, conversation)
        _report(conversation, on_turn, on_session)
        raise
    return _report(conversation, on_turn, on_session)


def _drive(
    ws: ClientConnection, conversation: Conversation, on_turn: Callable[[TurnRecord], None], clock: Clock
) -> None:
    adapter = conversation.adapter
    while not conversation.finished:
        for message in adapter.messages_to_send():
            ws.send(message)
        for turn in conversation.take_new_turns():
            on_turn(turn)
        deadline = conversation.next_deadline()
        timeout = None if deadline is None else max(0.0, deadline - clock())
        try:
            data = ws.recv(timeout=timeout)
        except TimeoutError:
            conversation.on_timer(clock())
            continue
        now = clock()
        adapter.receive_message(data)
        for event in adapter.events_received():
            conversation.handle(event, now)
        conversation.on_timer(now)


def _close(ws: ClientConnection, conversation: Conversation) -> None:
    """Close with 1000 (a no-op when the socket is already gone) and note what the server sent back."""
    with contextlib.suppress(Exception):
        ws.close(code=1000)
    rcvd = ws.protocol.close_rcvd
    conversation.on_closed_by_us(
        rcvd.code if rcvd is not None else None, rcvd.reason if rcvd is not None else None, rcvd is not None
    )


def _report(
    conversation: Conversation,
    on_turn: Callable[[TurnRecord], None],
    on_session: Callable[[SessionRecord], None],
) -> SessionRecord:
    for turn in conversation.take_new_turns():
        on_turn(turn)
    record = conversation.session_record()
    on_session(record)
    return record
