"""The WebSocket client on real sockets: fragments, keepalive, the closing handshake, and no threads."""

from __future__ import annotations

import dataclasses
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.sync.server import ServerConnection, serve
from websockets.utils import accept_key

from s2s_users.io.transport import TransportOptions, WebSocket

FAST = TransportOptions(open_timeout_s=5, ping_interval_s=None, close_timeout_s=2)


@contextmanager
def ws_server(handler: Callable[[ServerConnection], None]) -> Iterator[str]:
    with serve(handler, "127.0.0.1", 0) as srv:
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{srv.socket.getsockname()[1]}/"
        srv.shutdown()


@contextmanager
def mute_server() -> Iterator[str]:
    """Completes the handshake, then reads and never answers: not even a pong."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = listener.accept()
        request = conn.recv(65536).decode()
        key = next(
            line.split(":", 1)[1].strip()
            for line in request.split("\r\n")
            if line.lower().startswith("sec-websocket-key")
        )
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n".encode()
        )
        while conn.recv(65536):
            pass

    threading.Thread(target=run, daemon=True).start()
    yield f"ws://127.0.0.1:{listener.getsockname()[1]}/"
    listener.close()


def test_a_fragmented_message_arrives_whole() -> None:
    def handler(ws: ServerConnection) -> None:
        ws.send(["hel", "lo ", "world"])
        ws.recv()

    with ws_server(handler) as url:
        ws = WebSocket.connect(url, {}, FAST)
        assert ws.recv(timeout=5) == "hello world"
        ws.close()


def test_the_closing_handshake_completes_and_reports_the_servers_frame() -> None:
    def handler(ws: ServerConnection) -> None:
        ws.recv()
        ws.close(1001, "going away")

    with ws_server(handler) as url:
        ws = WebSocket.connect(url, {}, FAST)
        ws.send("bye")
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=5)
        assert caught.value.rcvd is not None and caught.value.rcvd.code == 1001
        assert ws.close_rcvd is not None and ws.close_rcvd.reason == "going away"


def test_our_close_gets_the_servers_answer() -> None:
    def handler(ws: ServerConnection) -> None:
        for _ in ws:
            pass

    with ws_server(handler) as url:
        ws = WebSocket.connect(url, {}, FAST)
        ws.close(1000)
        assert ws.close_rcvd is not None and ws.close_rcvd.code == 1000
        with pytest.raises(ConnectionClosedOK):
            ws.send("too late")


def test_a_server_that_never_answers_pings_is_failed_with_1011() -> None:
    options = TransportOptions(open_timeout_s=5, ping_interval_s=0.1, ping_timeout_s=0.3, close_timeout_s=1)
    with mute_server() as url:
        ws = WebSocket.connect(url, {}, options)
        with pytest.raises(ConnectionClosedError) as caught:
            ws.recv(timeout=10)
        assert caught.value.rcvd is None and caught.value.sent is not None and caught.value.sent.code == 1011


def test_a_quiet_open_connection_times_out_on_recv() -> None:
    with mute_server() as url:
        ws = WebSocket.connect(url, {}, FAST)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)
        ws.abort()


def test_a_refused_handshake_raises_the_status() -> None:
    def reject(connection: ServerConnection, request: object) -> object:
        return connection.respond(401, "no\n")

    with serve(lambda ws: None, "127.0.0.1", 0, process_request=reject) as srv:  # type: ignore[arg-type]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"ws://127.0.0.1:{srv.socket.getsockname()[1]}/"
        with pytest.raises(InvalidStatus) as caught:
            WebSocket.connect(url, {}, FAST)
        assert caught.value.response.status_code == 401
        srv.shutdown()


def test_wss_works_over_tls_and_refuses_an_untrusted_certificate(tls_context: tuple[ssl.SSLContext, ...]) -> None:
    server_context, client_context = tls_context

    def handler(ws: ServerConnection) -> None:
        ws.send(ws.recv())

    with serve(handler, "127.0.0.1", 0, ssl=server_context) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"wss://127.0.0.1:{srv.socket.getsockname()[1]}/"
        ws = WebSocket.connect(url, {}, dataclasses.replace(FAST, ssl_context=client_context))
        ws.send("over tls")
        assert ws.recv(timeout=5) == "over tls"
        ws.close()
        with pytest.raises(ssl.SSLCertVerificationError):
            WebSocket.connect(url, {}, FAST)  # the system trust store does not know this certificate
        srv.shutdown()


@contextmanager
def connect_proxy(tls: ssl.SSLContext | None = None) -> Iterator[tuple[str, list[str]]]:
    """A minimal HTTP CONNECT proxy (an HTTPS one with ``tls``); yields its URL and the targets it was asked for."""
    listener = socket.create_server(("127.0.0.1", 0))
    targets: list[str] = []

    def pipe(client: socket.socket, upstream: socket.socket) -> None:
        # One thread for both ways: an SSLSocket is not to be read and written from two threads at once.
        peers = {client: upstream, upstream: client}
        try:
            while True:
                pending = isinstance(client, ssl.SSLSocket) and client.pending()
                readable = [client] if pending else select.select(list(peers), [], [])[0]
                for src in readable:
                    data = src.recv(65536)
                    if not data:
                        return
                    peers[src].sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def serve_one() -> None:
        conn, _ = listener.accept()
        if tls is not None:
            conn = tls.wrap_socket(conn, server_side=True)
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        target = request.split(b" ")[1].decode()
        targets.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pipe(conn, upstream)

    threading.Thread(target=serve_one, daemon=True).start()
    yield f"{'http' if tls is None else 'https'}://127.0.0.1:{listener.getsockname()[1]}", targets
    listener.close()


def test_https_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(ws: ServerConnection) -> None:
        ws.send("via proxy")
        ws.recv()

    with ws_server(handler) as url, connect_proxy() as (proxy, targets):
        monkeypatch.setenv("http_proxy", proxy)
        monkeypatch.setenv("no_proxy", "")
        ws = WebSocket.connect(url, {}, FAST)
        assert ws.recv(timeout=5) == "via proxy"
        ws.close()
        assert targets == [url.removeprefix("ws://").rstrip("/")]


def test_wss_through_an_https_proxy_carries_our_tls_inside_the_proxys(
    monkeypatch: pytest.MonkeyPatch, tls_files: tuple[Path, Path], tls_context: tuple[ssl.SSLContext, ...]
) -> None:
    server_context, client_context = tls_context

    def handler(ws: ServerConnection) -> None:
        ws.send(ws.recv())

    with serve(handler, "127.0.0.1", 0, ssl=server_context) as srv, connect_proxy(server_context) as (proxy, targets):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"wss://127.0.0.1:{srv.socket.getsockname()[1]}/"
        monkeypatch.setenv("https_proxy", proxy)
        monkeypatch.setenv("no_proxy", "")
        monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))  # how the proxy's certificate is trusted
        ws = WebSocket.connect(url, {}, dataclasses.replace(FAST, ssl_context=client_context))
        ws.send("tls in tls")
        assert ws.recv(timeout=5) == "tls in tls"
        ws.close()
        assert targets == [url.removeprefix("wss://").rstrip("/")]
        srv.shutdown()


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
def test_a_message_read_late_is_stamped_when_it_reached_the_machine(
    secure: bool, tls_context: tuple[ssl.SSLContext, ...]
) -> None:
    server_context, client_context = tls_context
    sent: list[float] = []
    went = threading.Event()

    def handler(ws: ServerConnection) -> None:
        ws.recv()
        ws.send("late")
        sent.append(time.monotonic())
        went.set()
        ws.recv()

    with serve(handler, "127.0.0.1", 0, ssl=server_context if secure else None) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"{'wss' if secure else 'ws'}://127.0.0.1:{srv.socket.getsockname()[1]}/"
        ws = WebSocket.connect(url, {}, dataclasses.replace(FAST, ssl_context=client_context))
        ws.send("go")
        assert went.wait(5)
        time.sleep(0.3)  # a busy worker: the message waits in the socket
        read_at = time.monotonic()
        assert ws.recv(timeout=5) == "late"
        # The kernel's stamp: when it came (the server had sent it), not when it was read.
        assert ws.arrived_at <= sent[0] + 0.05
        assert read_at - ws.arrived_at >= 0.25
        assert ws.arrival(time.monotonic(), float("-inf")) == ws.arrived_at
        ws.close()
        srv.shutdown()


def test_a_session_hears_a_message_never_after_now_nor_before_what_it_last_saw() -> None:
    with ws_server(lambda ws: ws.send("hello") or ws.recv()) as url:
        ws = WebSocket.connect(url, {}, FAST)
        assert ws.recv(timeout=5) == "hello"
        stamp = ws.arrived_at
        assert ws.arrival(stamp - 1.0, float("-inf")) == stamp - 1.0  # a clock read before the stamp: now
        assert ws.arrival(stamp + 1.0, stamp + 0.5) == stamp + 0.5  # the session saw later already: that time
        ws.arrived_at = float("inf")  # no stamp (no Linux, a proxy's TLS socket): the session's now
        assert ws.arrival(stamp + 1.0, float("-inf")) == stamp + 1.0
        ws.close()
