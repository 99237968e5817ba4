"""A blocking WebSocket client on ``websockets``' sans-I/O ``ClientProtocol``: one socket, one caller, no threads.

Why not ``websockets.sync``: it reads in a background thread through ``selectors``. Under Locust's gevent
monkey-patching that thread is a greenlet blocked in a gevent selector, and when a close times out the library
closes the socket under that selector's watcher; libev then aborts the whole process ("I/O watcher with invalid
fd"). Here the caller's greenlet is the only reader, so closing is always safe, and a session costs one greenlet.

Proxies: like ``websockets``' own clients, ``HTTPS_PROXY`` / ``HTTP_PROXY`` (and ``NO_PROXY``) from the environment
are honoured, through the library's HTTP CONNECT helper.

Errors are ``websockets``' own (``InvalidStatus``, ``InvalidHandshake``, ``ConnectionClosed``) or ``OSError`` /
``TimeoutError`` (``SendTimeout`` is an ``OSError``), so the session's exception boundary maps them as before.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidProxy
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import USER_AGENT, Response
from websockets.protocol import State
from websockets.proxy import get_proxy, parse_proxy
from websockets.sync.client import connect_http_proxy
from websockets.sync.utils import Deadline
from websockets.uri import WebSocketURI, parse_uri

RECV_BUFSIZE = 65536

# websockets logs the request headers (the API key) and every frame (audio, 50 a second per session) at DEBUG:
# its protocol objects get a logger that never does, whatever level the user gives Locust.
_PROTOCOL_LOG = logging.getLogger("s2s_users.io.transport.websockets")
_PROTOCOL_LOG.setLevel(logging.INFO)


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """WebSocket client settings; chosen on purpose (see DESIGN §8), not library defaults."""

    open_timeout_s: float = 15.0
    ping_interval_s: float | None = 20.0
    # Generous: a starved load generator must not pass for a dead provider (1011 keepalive timeout).
    ping_timeout_s: float | None = 60.0
    close_timeout_s: float = 5.0
    # A send that waits this long for the server to read (our socket buffer is full) means a dead or wedged
    # server, as a missing pong does; without a bound, sendall() would block the session for ever.
    send_timeout_s: float = 60.0
    max_size: int = 32 * 1024 * 1024
    ssl_context: ssl.SSLContext | None = None
    """TLS settings for wss:// (default: the system's trust store; SSL_CERT_FILE works too)."""
    use_proxy: bool = True


DEFAULT_TRANSPORT = TransportOptions()


def _open_socket(uri: WebSocketURI, options: TransportOptions) -> socket.socket:
    """TCP to the server, or through the HTTP(S) proxy the environment names for it."""
    proxy = get_proxy(uri) if options.use_proxy else None
    if proxy is None:
        return socket.create_connection((uri.host, uri.port), timeout=options.open_timeout_s)
    parsed = parse_proxy(proxy)
    if not parsed.scheme.startswith("http"):
        raise InvalidProxy(proxy, "only HTTP(S) proxies are supported: unset ALL_PROXY or use an http:// proxy")
    return connect_http_proxy(parsed, uri, Deadline(options.open_timeout_s), user_agent_header=USER_AGENT)


class SendTimeout(ConnectionError):
    """The server read nothing for ``send_timeout_s`` while we had data for it: the connection is given up."""


class WebSocket:
    """A connected client WebSocket. ``recv`` waits at most ``timeout``; pings and pongs happen inside it."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol, options: TransportOptions) -> None:
        self._sock = sock
        self.protocol = protocol
        self._options = options
        self._messages: list[str] = []
        self._fragments: list[bytes] = []
        self._ping_due = self._next_ping()
        self._pong_due: float | None = None

    @classmethod
    def connect(cls, url: str, headers: Mapping[str, str], options: TransportOptions) -> WebSocket:
        """Open the TCP (and TLS) connection and run the opening handshake within ``open_timeout_s``."""
        uri = parse_uri(url)
        deadline = time.monotonic() + options.open_timeout_s
        sock = _open_socket(uri, options)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if uri.secure:
                context = options.ssl_context or ssl.create_default_context()
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                sock = context.wrap_socket(sock, server_hostname=uri.host)
            protocol = ClientProtocol(uri, max_size=options.max_size, logger=_PROTOCOL_LOG)
            request = protocol.connect()
            for name, value in headers.items():
                request.headers[name] = value
            protocol.send_request(request)
            ws = cls(sock, protocol, options)
            ws._flush()
            ws._handshake(deadline)
            return ws
        except BaseException:
            sock.close()
            raise

    def _handshake(self, deadline: float) -> None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out during the opening handshake")
            self._sock.settimeout(remaining)
            data = self._sock.recv(RECV_BUFSIZE)
            if data:
                self.protocol.receive_data(data)
            else:
                self.protocol.receive_eof()
            events = self.protocol.events_received()
            for event in events:
                self._take(event)  # frames sent right after the 101 can arrive in the same read
            if any(isinstance(event, Response) for event in events):
                if self.protocol.handshake_exc is not None:
                    raise self.protocol.handshake_exc
                return
            if not data:
                raise self.protocol.handshake_exc or InvalidHandshake("connection closed during the handshake")

    # --- sending ----------------------------------------------------------------------------------------

    def send(self, text: str) -> None:
        self._raise_if_closed()
        self.protocol.send_text(text.encode())
        self._flush()

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                timeout = self._options.close_timeout_s if self._closing else self._options.send_timeout_s
                self._sock.settimeout(timeout)
                try:
                    self._sock.sendall(data)
                except TimeoutError as exc:
                    # Not a TimeoutError any more: to callers of recv() that means "no message yet", and a
                    # frame cut in the middle leaves nothing to go on with (an OSError: the connection ended).
                    raise SendTimeout(f"we closed: the server read nothing for {timeout:g} s") from exc
            else:  # the protocol wants the write side closed (after a close frame)
                try:
                    self._sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    @property
    def _closing(self) -> bool:
        return self.protocol.state in (State.CLOSING, State.CLOSED)

    # --- receiving --------------------------------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> str:
        """The next text message; ``TimeoutError`` after ``timeout`` s; ``ConnectionClosed`` when it ends."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._messages:
            self._raise_if_closed()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise TimeoutError("no message within the timeout")
            self._keepalive(now)
            wakes = [t for t in (deadline, self._ping_due, self._pong_due) if t is not None]
            self._sock.settimeout(max(min(wakes) - now, 0.0) if wakes else None)
            try:
                data = self._sock.recv(RECV_BUFSIZE)
            except TimeoutError:
                continue
            except ConnectionError:
                data = b""  # reset or broken pipe: the connection ended without a close frame
            self._receive(data)
        return self._messages.pop(0)

    def _receive(self, data: bytes) -> None:
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            self._take(event)
        self._flush()  # answers to pings and close frames
        if not data:
            self._sock.close()

    def _take(self, frame: object) -> None:
        if not isinstance(frame, Frame):
            return
        if frame.opcode is Opcode.PONG:
            self._pong_due = None
        elif frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                self._messages.append(b"".join(self._fragments).decode("utf-8", errors="replace"))
                self._fragments = []

    def _keepalive(self, now: float) -> None:
        if self._pong_due is not None and now >= self._pong_due:
            # Like websockets' keepalive: no pong in time means the connection is dead; 1011 as it sends.
            self.protocol.fail(1011, "keepalive ping timeout")
            try:
                self._flush()
            except OSError:
                pass
            self.protocol.receive_eof()
            self._sock.close()
            raise self.protocol.close_exc
        if self._ping_due is not None and now >= self._ping_due and self.protocol.state is State.OPEN:
            self.protocol.send_ping(os.urandom(4))
            self._flush()
            self._ping_due = self._next_ping()
            if self._options.ping_timeout_s is not None and self._pong_due is None:
                self._pong_due = now + self._options.ping_timeout_s  # from the oldest unanswered ping

    def _next_ping(self) -> float | None:
        interval = self._options.ping_interval_s
        return None if interval is None else time.monotonic() + interval

    def _raise_if_closed(self) -> None:
        if self.protocol.state is State.CLOSING:
            # No data follows, only the end of TCP: either the server's close frame came and was answered, or
            # websockets failed the connection over what the server sent (not a frame, over max_size, a bad
            # close frame) and sent 1002/1007/1009. Wait for the TCP end as briefly as a close, then report;
            # neither sending (InvalidState) nor waiting for the turn's deadline makes sense any more.
            self._await_closed(self._options.close_timeout_s)
        if self.protocol.state is State.CLOSED:
            raise self.protocol.close_exc

    # --- closing ----------------------------------------------------------------------------------------

    @property
    def close_rcvd(self) -> Close | None:
        return self.protocol.close_rcvd

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and wait (``close_timeout_s``) for the server's; then close the socket."""
        try:
            if self.protocol.state is State.OPEN:
                self.protocol.send_close(code, reason)
                self._flush()
        except OSError:
            pass
        self._await_closed(self._options.close_timeout_s)

    def abort(self) -> None:
        """Drop the connection without a closing handshake."""
        if self.protocol.state is not State.CLOSED:
            self.protocol.receive_eof()
        self._sock.close()

    def _await_closed(self, timeout: float) -> None:
        """Read until the closing handshake and TCP end, at most ``timeout`` s; then the socket is closed."""
        deadline = time.monotonic() + timeout
        try:
            while self.protocol.state is not State.CLOSED:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._sock.settimeout(remaining)
                self._receive(self._sock.recv(RECV_BUFSIZE))
        except OSError:
            pass
        finally:
            if self.protocol.state is not State.CLOSED:
                self.protocol.receive_eof()  # we stop waiting: the connection is over for us
            self._sock.close()
