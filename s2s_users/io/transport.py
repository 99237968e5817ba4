"""A blocking WebSocket client on ``websockets``' sans-I/O ``ClientProtocol``: one socket, one caller, no threads.

Why not ``websockets.sync``: it reads in a background thread through ``selectors``. Under Locust's gevent
monkey-patching that thread is a greenlet blocked in a gevent selector, and when a close times out the library
closes the socket under that selector's watcher; libev then aborts the whole process ("I/O watcher with invalid
fd"). Here one greenlet at a time reads a connection (the session's, or the pump's while it drives it:
``io/pump.py``, which stops its watcher before the session's greenlet may close), so closing is always safe.

Proxies: like ``websockets``' own clients, ``HTTPS_PROXY`` / ``HTTP_PROXY`` (and ``NO_PROXY``) from the environment
are honoured, through the library's HTTP CONNECT helper.

Errors are ``websockets``' own (``InvalidStatus``, ``InvalidHandshake``, ``ConnectionClosed``) or ``OSError`` /
``TimeoutError`` (``SendTimeout`` is an ``OSError``), so the session's exception boundary maps them as before.

The hot path (a session sends 50 appends a second at 20 ms chunks and wakes as often) is kept lean: a text frame
is framed and masked by ``client_frames`` (websockets' C ``apply_mask``, a fresh key per frame from the OS's
CSPRNG, drawn 4 KiB at a time) and goes out in one ``send``; waiting for the next message or deadline watches the
socket and a timer directly (under gevent: no ``Timeout`` object, no exception, no failed ``recv`` per wait).
A server frame that is a whole message (nearly all: one event each) is read by hand (``frame_reader``); every
other frame goes whole through the library's parser. Everything else (control frames, closing, errors) is the
library's.

Each message carries when it reached this machine: the kernel's receive stamp of the read that completed it
(``arrival``), so that a worker too busy to read at once does not add its delay to the server's TTFA. TLS runs over
the plain socket (``tls``) so that wss:// reads are stamped too.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import select
import socket
import ssl
import struct
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gevent import getcurrent
from gevent import socket as gevent_socket
from gevent.hub import get_hub
from mypy_extensions import mypyc_attr
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidProxy
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import USER_AGENT, Response
from websockets.protocol import State
from websockets.proxy import get_proxy, parse_proxy
from websockets.sync.client import connect_http_proxy
from websockets.sync.utils import Deadline
from websockets.uri import WebSocketURI, parse_uri

from s2s_users.io.client_frames import MaskKeys, text_frame
from s2s_users.io.frame_reader import FrameReader
from s2s_users.io.tls import TlsLayer

RECV_BUFSIZE = 65536

# Kernel receive timestamps (Linux's SO_TIMESTAMPNS; Python names no constant for it): when a read's last bytes
# reached this machine, which a busy worker reads later. A time to first audio taken at the read would count our
# own delay as the server's. 35 is its number on the architectures below (elsewhere Linux numbers it otherwise).
_SO_TIMESTAMPNS = 35
_STAMPING_MACHINES = frozenset({"x86_64", "amd64", "aarch64", "arm64", "i386", "i686", "armv7l", "riscv64", "ppc64le"})
_STAMP_SPACE = socket.CMSG_SPACE(16)
_TIMESPEC = struct.Struct("@qq")

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


def _stamp_arrivals(sock: socket.socket) -> bool:
    """Ask the kernel to stamp what arrives on ``sock`` (plain TCP on Linux); whether it will."""
    if sys.platform != "linux" or platform.machine() not in _STAMPING_MACHINES or isinstance(sock, ssl.SSLSocket):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def _tls_handshake(sock: socket.socket, tls: TlsLayer, deadline: float) -> None:
    """TLS's handshake over ``sock`` within ``deadline`` (``ssl.SSLError`` as ``SSLSocket``'s: a refused
    certificate is ``ssl.SSLCertVerificationError``)."""
    while True:
        done = tls.handshake()
        out = tls.to_send()
        if out:
            sock.sendall(out)
        if done:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out during the TLS handshake")
        sock.settimeout(remaining)
        tls.receive(sock.recv(RECV_BUFSIZE))  # b"": the end, which the next step reports (ssl.SSLEOFError)


@mypyc_attr(native_class=False)  # mypyc (scripts/compile.py) makes native subclasses of Exception only
class SendTimeout(ConnectionError):
    """The server read nothing for ``send_timeout_s`` while we had data for it: the connection is given up."""


Readable = Callable[[float | None], bool]
"""Waits until the socket has data or ``timeout`` s pass (None: no limit); says whether it has data."""


def _gevent_readable(sock: socket.socket) -> Readable:
    """Under gevent: one I/O watcher per connection and a timer per wait, switched to directly, as gevent's own
    waits do, but without the ``Timeout`` object and the exception its socket timeouts cost on every expiry."""
    hub = get_hub()
    loop = hub.loop
    watcher = loop.io(sock.fileno(), 1)
    new_timer, to_hub = loop.timer, hub.switch

    def wait(timeout: float | None) -> bool:
        switch = getcurrent().switch
        watcher.start(switch, True)
        timer = None
        if timeout is not None:
            timer = new_timer(max(timeout, 0.0))
            timer.start(switch, False)
        try:
            return bool(to_hub())
        finally:
            # Stopping both also drops a callback already pending in this loop iteration: no stray switch later.
            watcher.stop()
            if timer is not None:
                timer.close()

    return wait


def _select_readable(sock: socket.socket) -> Readable:
    """Without gevent (tests, plain threads): ``select``."""

    def wait(timeout: float | None) -> bool:
        return bool(select.select([sock], [], [], None if timeout is None else max(timeout, 0.0))[0])

    return wait


class WebSocket:
    """A connected client WebSocket. ``recv`` waits at most ``timeout``; pings and pongs happen inside it."""

    def __init__(
        self, sock: socket.socket, protocol: ClientProtocol, options: TransportOptions, tls: TlsLayer | None = None
    ) -> None:
        self._sock = sock
        # What reads and sends go through: the socket, or while it must not wait (``_set_timeout(0)``) gevent's own
        # socket underneath, which is non-blocking and raises as gevent's wrapping would, without the interpreted
        # frame per call. Only a plain gevent socket: an HTTPS proxy's (gevent's SSLSocket) is read through its TLS.
        self._unwrapped = sock._sock if type(sock) is gevent_socket.socket else sock  # type: ignore[attr-defined]
        self._io = sock
        self.protocol = protocol
        self._options = options
        self._messages: deque[str] = deque()
        self._arrivals: deque[float] = deque()  # each message's kernel stamp (monotonic clock; inf: none)
        self.arrived_at = math.inf
        """When the message taken last reached this machine, on ``time.monotonic``'s clock (inf: not known)."""
        self._read_at = math.inf  # the kernel's stamp of the read being fed
        self._stamped = _stamp_arrivals(sock)
        self._ping_due = self._next_ping()
        self._pong_due: float | None = None
        self._masks = MaskKeys()
        self._tls = tls  # wss://: TLS over the plain socket (``tls``), its reads stamped as any other
        self._readable = _gevent_readable(sock) if isinstance(sock, gevent_socket.socket) else _select_readable(sock)
        self._nonblocking = False
        # Server frames read by hand from the handshake's end, while the connection is open.
        self._reader = FrameReader(protocol, options.max_size, False, self._arrived, self._take)
        self._unsent = bytearray()  # grows in place: an unpaced prompt can queue thousands of frames behind a rest

    @classmethod
    def connect(cls, url: str, headers: Mapping[str, str], options: TransportOptions) -> WebSocket:
        """Open the TCP (and TLS) connection and run the opening handshake within ``open_timeout_s``."""
        uri = parse_uri(url)
        deadline = time.monotonic() + options.open_timeout_s
        sock = _open_socket(uri, options)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = None
            if uri.secure:
                tls = TlsLayer(options.ssl_context or ssl.create_default_context(), uri.host)
                _tls_handshake(sock, tls, deadline)
            protocol = ClientProtocol(uri, max_size=options.max_size, logger=_PROTOCOL_LOG)
            request = protocol.connect()
            for name, value in headers.items():
                request.headers[name] = value
            protocol.send_request(request)
            ws = cls(sock, protocol, options, tls)
            ws._flush()
            ws._handshake(deadline)
            return ws
        except BaseException:
            sock.close()
            raise

    def _handshake(self, deadline: float) -> None:
        head = bytearray()  # the response so far: where a 101's header ends, the frames begin (ours to read)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out during the opening handshake")
            self._set_timeout(remaining)
            data, ended = self._read_plain()
            if not data and not ended:
                continue  # part of a TLS record
            frames = b""
            if data:
                start = len(head)
                head += data
                end = head.find(b"\r\n\r\n", max(start - 3, 0))
                if end >= 0 and head.startswith(b"HTTP/1.1 101 "):  # any other status: the protocol reads a body
                    data, frames = data[: end + 4 - start], data[end + 4 - start :]
                self.protocol.receive_data(data)
            if ended:  # TLS: a close_notify can come in the same read as the response's last bytes
                self.protocol.receive_eof()
            events = self.protocol.events_received()
            if any(isinstance(event, Response) for event in events):
                if self.protocol.handshake_exc is not None:
                    raise self.protocol.handshake_exc
                # The protocol has read the response up to its last byte: it is at a frame's start.
                self._reader.start()
                if frames:
                    self._feed(frames)  # frames sent right after the 101 can arrive in the same read
                return
            if ended:
                raise self.protocol.handshake_exc or InvalidHandshake("connection closed during the handshake")

    # --- sending ----------------------------------------------------------------------------------------

    def send(self, text: str) -> None:
        if self.protocol.state is not State.OPEN or self.protocol.extensions:
            self._raise_if_closed()
            self.protocol.send_text(text.encode())
            self._flush()
            return
        # Open, no extension: the frame is ours to make. The protocol keeps nothing of a data frame it sends (it
        # queues its own control frames, which _flush sends as soon as they are made), so the order on the wire
        # is the same as through send_text.
        self._write(text_frame(text.encode(), self._masks.next()))

    def _write(self, data: bytes) -> None:
        """``data`` on the wire: one ``send`` (the socket's buffer takes a frame at once), ``sendall`` for a rest."""
        self._write_raw(data if self._tls is None else self._tls.encrypt(data))

    def _write_raw(self, data: bytes) -> None:
        if self._unsent:  # driven by the pump, behind a frame's rest: in order, after it
            self._unsent += data
            return
        try:
            sent = self._io.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except TimeoutError as exc:
            timeout = self._options.send_timeout_s
            raise SendTimeout(f"we closed: the server read nothing for {timeout:g} s") from exc
        if sent < len(data):
            if self._nonblocking:
                self._unsent += data[sent:]
                return
            self._sendall(memoryview(data)[sent:], self._options.send_timeout_s)

    def _sendall(self, data: bytes | bytearray | memoryview, timeout: float) -> None:
        """``data`` (already encrypted, for TLS) all on the wire within ``timeout``."""
        self._set_timeout(timeout)
        try:
            self._sock.sendall(data)
        except TimeoutError as exc:
            # Not a TimeoutError any more: to callers of recv() that means "no message yet", and a frame cut in
            # the middle leaves nothing to go on with (an OSError: the connection ended).
            raise SendTimeout(f"we closed: the server read nothing for {timeout:g} s") from exc
        finally:
            if self._nonblocking:
                self._set_timeout(0.0)

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                timeout = self._options.close_timeout_s if self._closing else self._options.send_timeout_s
                self._sendall(data if self._tls is None else self._tls.encrypt(data), timeout)
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
        message = self.poll(timeout)
        if message is None:
            raise TimeoutError("no message within the timeout")
        return message

    def poll(self, timeout: float | None = None) -> str | None:
        """The next text message, or None when none came within ``timeout`` s; ``ConnectionClosed`` when it ends."""
        messages = self._messages
        if messages:
            return self._take_message()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not messages:
            if self.protocol.state is not State.OPEN:
                self._raise_if_closed()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            ping, pong = self._ping_due, self._pong_due
            if (pong is not None and now >= pong) or (ping is not None and now >= ping):
                self._keepalive(now)
            wake = self.next_wake(deadline)
            if not self._readable(None if wake is None else max(wake - now, 0.0)):
                continue
            try:
                self._read()
            except (TimeoutError, BlockingIOError, InterruptedError):
                continue
        return self._take_message()

    def _read(self, close_at_end: bool = True) -> None:
        """One read of the socket into the protocol (decrypted, for TLS); at the stream's end, the socket closed
        unless ``close_at_end`` is False. Raises what the socket does when it has nothing (``BlockingIOError``...)."""
        try:
            data, ended = self._read_plain()
        except ConnectionError:
            data, ended = b"", True  # reset or broken pipe: the connection ended without a close frame
        if data:
            self._feed(data)
        if ended:
            self._feed(b"")
            if close_at_end:
                self._sock.close()

    def _read_plain(self) -> tuple[bytes, bool]:
        """One read of the socket: its plaintext (TLS: of every record it completed) and whether it ended."""
        data = self._recv()
        tls = self._tls
        if tls is None:
            return data, not data
        plain, ended = tls.decrypt(data)
        answer = tls.to_send()  # what TLS says back to what it read (a key update's): in order with our frames
        if answer and not ended:
            self._write_raw(answer)
        return plain, ended

    def _recv(self) -> bytes:
        """One read of the socket; with kernel stamps, ``_read_at`` is when its last bytes arrived."""
        self._read_at = math.inf
        if not self._stamped:
            return self._io.recv(RECV_BUFSIZE)
        data, ancillary, _, _ = self._io.recvmsg(RECV_BUFSIZE, _STAMP_SPACE)
        for level, kind, payload in ancillary:
            if kind == _SO_TIMESTAMPNS and level == socket.SOL_SOCKET and len(payload) >= _TIMESPEC.size:
                seconds, nanoseconds = _TIMESPEC.unpack_from(payload)
                # The stamp is on the wall clock; the sessions time on the monotonic one.
                self._read_at = seconds + nanoseconds * 1e-9 - time.time() + time.monotonic()
        return data

    def _arrived(self, text: str) -> None:
        self._messages.append(text)
        self._arrivals.append(self._read_at)

    def _take_message(self) -> str:
        self.arrived_at = self._arrivals.popleft()
        return self._messages.popleft()

    def arrival(self, now: float, floor: float) -> float:
        """When the message taken last arrived, for a session whose clock reads ``now`` and last read ``floor``:
        the kernel's stamp, but never later than ``now`` (the clocks' conversion can be off by a microsecond) nor
        before ``floor`` (a session's time never goes back: a message that came while its timer ran is heard
        after it). Without a stamp (another OS; TLS through an HTTPS proxy's TLS socket): ``now``."""
        return max(min(self.arrived_at, now), floor)

    def _set_timeout(self, timeout: float) -> None:
        """How long a call on the socket may wait (0: none), for every call: a wait's bound is set only here."""
        self._sock.settimeout(timeout)
        self._io = self._unwrapped if timeout == 0.0 else self._sock

    def _feed(self, data: bytes) -> None:
        self._reader.feed(data)
        if self.protocol.writes:  # answers to pings and close frames (most reads have none to send)
            self._flush()

    # --- driven by the pump (io/pump.py): never waits ---------------------------------------------------

    def fileno(self) -> int:
        return self._sock.fileno()

    def go_nonblocking(self) -> None:
        """From now on no call waits (a ``send`` the socket cannot take whole keeps the rest: ``must_wait``)."""
        self._nonblocking = True
        self._set_timeout(0.0)

    def go_blocking(self) -> None:
        """Back to waiting calls; the rest of a frame that did not fit is sent first (within the send timeout)."""
        self._nonblocking = False
        self._set_timeout(self._options.send_timeout_s)
        unsent, self._unsent = self._unsent, bytearray()
        if unsent:
            self._sendall(unsent, self._options.send_timeout_s)

    def read_now(self) -> None:
        """What the socket has (TLS: every record it completed) into the protocol; the end of TCP too, but the
        socket stays open (its watcher is still the pump's: the session's greenlet closes it)."""
        try:
            self._read(close_at_end=False)
        except (BlockingIOError, InterruptedError):
            return

    def has_messages(self) -> bool:
        return bool(self._messages)

    def message_now(self) -> str | None:
        return self._take_message() if self._messages else None

    def keep_alive(self, now: float) -> None:
        """A ping when one is due (an overdue pong is ``must_wait``'s: failing the connection closes it)."""
        ping = self._ping_due
        if ping is not None and now >= ping and self.protocol.state is State.OPEN:
            pong = self._pong_due
            if pong is None or now < pong:
                self._keepalive(now)

    def must_wait(self, now: float) -> bool:
        """Whether going on needs a wait (a frame's rest to send, a closing handshake, a pong overdue): the
        pump hands such a connection back."""
        pong = self._pong_due
        return bool(self._unsent) or self.protocol.state is not State.OPEN or (pong is not None and now >= pong)

    def next_wake(self, deadline: float | None) -> float | None:
        """The nearest of ``deadline`` and the keepalive's times (a ping to send, a pong overdue); None: none.
        This runs at every wake: no list, no min()."""
        wake = deadline
        ping, pong = self._ping_due, self._pong_due
        if ping is not None and (wake is None or ping < wake):
            wake = ping
        if pong is not None and (wake is None or pong < wake):
            wake = pong
        return wake

    def _take(self, frame: Frame) -> None:
        if frame.opcode is Opcode.PONG:
            self._pong_due = None

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
                self._set_timeout(remaining)
                self._read()
        except OSError:
            pass
        finally:
            if self.protocol.state is not State.CLOSED:
                self.protocol.receive_eof()  # we stop waiting: the connection is over for us
            self._sock.close()
