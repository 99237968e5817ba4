"""The asyncio shell of the mock: a WebSocket server that drives one ``MockSession`` per connection.

Each connection is an ``asyncio.Protocol`` (``MockConnection``) around ``websockets``' sans-I/O ``ServerProtocol``,
which does the handshake, pings, closing and every malformed frame; the hot path is ours: a client's whole messages
are read by hand (``frame_reader``, as our client reads a server's) straight into the session, and what the session
has due goes out as frames made by hand from one timer per connection. ``websockets``' asyncio server spent about
half of the mock's CPU on a task, futures and a message queue per message: the mock is the benchmark's load target,
and its lag shows up as the client's TTFA error. Unlike ``websockets``' server it sends no keepalive pings of its own
(it answers the client's): its clients are on the same machine, and a client that dies closes its sockets.

``python -m s2s_users mock`` runs it standalone (``main``); ``MockServerProcess`` starts it as a child process of a
Locust process (the embedded mock).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from websockets.datastructures import Headers
from websockets.frames import Frame
from websockets.http11 import SERVER, Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from s2s_users.core.exceptions import ConfigError, S2SError
from s2s_users.core.mock.behavior import MockSession
from s2s_users.core.mock.gemini_resumption import ResumptionRegistry
from s2s_users.core.mock.gemini_session import GeminiMockSession
from s2s_users.core.mock.outputs import Abort, CloseWithFrame, Send
from s2s_users.core.mock.profiles import DEFAULT_MOCK_API_KEY, DEFAULT_PROFILES, ModelProfile
from s2s_users.core.mock.scenario import load_scenario
from s2s_users.core.mock.voice import quiet_buffer, voice_buffer
from s2s_users.core.protocols import gemini_wire
from s2s_users.io.frame_reader import FrameReader
from s2s_users.io.server_frames import data_frame

log = logging.getLogger("s2s_users.mock")
ENTRA_TOKEN_ENV = "S2S_MOCK_ENTRA_TOKEN"
OPENAI_PATH = "/v1/realtime"
#: Azure OpenAI realtime (GA v1) and Azure AI Voice Live: the OpenAI protocol, Azure's auth.
AZURE_PATHS = ("/openai/v1/realtime", "/voice-live/realtime")
PATHS = (OPENAI_PATH, *AZURE_PATHS)
GEMINI_PATHS = gemini_wire.PATHS
MAX_SIZE = 16 * 1024 * 1024
CLOSE_TIMEOUT_S = 10.0
"""How long the mock waits for a client's close frame after sending its own (websockets' default)."""
OPEN_TIMEOUT_S = 10.0
"""How long a connection may take to finish its handshake (websockets' default)."""


def _json_response(status: int, reason: str, body: dict[str, object]) -> Response:
    headers = Headers([("Content-Type", "application/json")])
    return Response(status, reason, headers, json.dumps(body).encode())


def _error(status: int, reason: str, message: str, code: str) -> Response:
    return _json_response(
        status, reason, {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    )


_REJECTIONS = {
    401: ("Unauthorized", "Incorrect API key provided.", "invalid_api_key"),
    404: ("Not Found", "The model does not exist or you do not have access to it.", "model_not_found"),
    429: ("Too Many Requests", "Rate limit reached for concurrent sessions.", "rate_limit_exceeded"),
    503: ("Service Unavailable", "The server is overloaded. Please try again later.", "service_unavailable"),
}


def _rejection(status: int) -> Response:
    reason, message, code = _REJECTIONS[status]
    return _error(status, reason, message, code)


def credential(request: Request) -> tuple[str, str]:
    """(how the client authenticated, the key or token it sent) for a request on any of the mock's paths."""
    url = urllib.parse.urlsplit(request.path)
    query = dict(urllib.parse.parse_qsl(url.query))
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return "bearer", auth.removeprefix("Bearer ")
    for header in ("api-key", "x-goog-api-key"):
        if header in request.headers:
            return header, request.headers[header]
    for name in ("api-key", "key"):  # browsers cannot set headers: Azure's ?api-key=, Gemini's ?key=
        if name in query:
            return f"?{name}=", query[name]
    return "none", ""


class MockRealtimeServer:
    """Serves the OpenAI Realtime GA protocol (also on Azure's paths) and Gemini Live for the given profiles.

    With ``truth`` set, one JSON line per connection goes there when it ends: what the mock really did, and how
    the client authenticated (never with what). ``entra_token``: the Microsoft Entra ID token Azure's paths accept
    as a Bearer token, besides the key in ``api-key``.
    """

    def __init__(
        self,
        profiles: Mapping[str, ModelProfile],
        time_scale: float,
        api_key: str,
        seed: int,
        truth: Path | None = None,
        entra_token: str | None = None,
    ) -> None:
        self.profiles = dict(profiles)
        self.time_scale = time_scale
        self.api_key = api_key
        self.entra_token = entra_token
        self.seed = seed
        self.resumable = ResumptionRegistry()
        self._sessions = itertools.count()
        self._rejections = random.Random(seed)
        self.connections: set[MockConnection] = set()
        self.open_timeout_s = OPEN_TIMEOUT_S
        self._all_ended: asyncio.Event | None = None  # while shutting down
        self._truth: TextIO | None = truth.open("a", encoding="utf-8") if truth is not None else None

    def record_truth(self, line: dict[str, Any]) -> None:
        if self._truth is not None:
            try:
                self._truth.write(json.dumps(line, separators=(",", ":")) + "\n")
                self._truth.flush()
            except OSError as exc:  # a full disk ends the truth log, never the mock's sessions
                print(f"mock: truth log stopped: {exc.strerror or exc}", file=sys.stderr, flush=True)
                with contextlib.suppress(OSError):
                    self._truth.close()
                self._truth = None

    def close(self) -> None:
        if self._truth is not None:
            self._truth.close()
            self._truth = None

    def _accepts(self, path: str, request: Request) -> bool:
        kind, secret = credential(request)
        if path in AZURE_PATHS and kind == "bearer" and self.entra_token is not None:
            return secret == self.entra_token
        return secret == self.api_key

    def check(self, request: Request) -> Response | None:
        """Handshake checks, as the real service: path, key (401), model (404). Gemini names its model in
        ``setup`` and refuses a bad key with a close frame: its connections are checked by the session."""
        url = urllib.parse.urlsplit(request.path)
        if url.path in GEMINI_PATHS:
            return None
        if url.path not in PATHS:
            return _error(404, "Not Found", f"Unknown path {url.path}: use /v1/realtime?model=...", "not_found")
        if not self._accepts(url.path, request):
            return _rejection(401)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/voice-live/realtime" and "api-version" not in query:
            return _error(400, "Bad Request", "Missing required query parameter 'api-version'.", "BadRequest")
        model = query.get("model", "")
        if model not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            return _error(404, "Not Found", f"The model '{model}' does not exist. Known: {known}.", "model_not_found")
        for status, probability in self.profiles[model].reject.items():
            if self._rejections.random() < probability:
                self.record_truth({"session_id": None, "model": model, "rejected": status, "end": f"rejected {status}"})
                return _rejection(status)
        return None

    def session_for(self, request: Request, now: float) -> MockSession | GeminiMockSession:
        url = urllib.parse.urlsplit(request.path)
        seed = self.seed * 1_000_003 + next(self._sessions)
        if url.path in GEMINI_PATHS:
            key_ok = self._accepts(url.path, request)
            return GeminiMockSession(self.profiles, self.resumable, self.time_scale, seed, now, key_ok=key_ok)
        model = dict(urllib.parse.parse_qsl(url.query))["model"]
        session = MockSession(self.profiles[model], self.time_scale, seed, now, wall_offset=time.time() - now)
        log.info("session %s model %s", session.session_id, model)
        return session

    def ended(self, connection: MockConnection) -> None:
        """A connection is over: its truth line, with the path and how the client authenticated."""
        self.connections.discard(connection)
        if not self.connections and self._all_ended is not None:
            self._all_ended.set()
        session, request = connection.session, connection.request
        if session is None or request is None:
            return
        path = urllib.parse.urlsplit(request.path).path
        auth = credential(request)[0]
        if path in AZURE_PATHS and auth == "bearer" and self.entra_token is not None:
            auth = "entra"  # only the Entra token opens an Azure path as a Bearer token
        self.record_truth({**session.truth(), "path": path, "auth": auth})

    async def start(self, host: str, port: int, reuse_port: bool = False) -> asyncio.Server:
        """Listen; with ``reuse_port`` several mock processes share the port (the kernel spreads connections)."""
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: MockConnection(self, loop), host, port, reuse_port=reuse_port or None)

    async def shut_down(self, server: asyncio.Server) -> None:
        """Stop listening; close every open connection with 1001 (going away), as a server shutting down does,
        and record each one's truth."""
        server.close()
        self._all_ended = asyncio.Event()
        if not self.connections:
            self._all_ended.set()
        for connection in list(self.connections):
            connection.go_away()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_ended.wait(), CLOSE_TIMEOUT_S)
        await server.wait_closed()


class MockConnection(asyncio.Protocol):
    """One client connection, driven by the event loop's callbacks: no task, no future, no queue per message.

    ``websockets``' ``ServerProtocol`` reads the handshake (checked by ``MockRealtimeServer.check``), answers pings
    and runs the closing handshake; ``FrameReader`` hands each whole message to the session. One timer handle per
    connection wakes the session's writer at its next due time; a client message re-arms it only when it brought
    something sooner (most, the prompt's appends, schedule nothing). A client that stops reading makes the
    transport's buffer grow, as a real server's queue would, until it reads or goes."""

    def __init__(self, server: MockRealtimeServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop
        self.protocol = ServerProtocol(max_size=MAX_SIZE)
        self.reader = FrameReader(self.protocol, MAX_SIZE, True, self._message, self._control)
        self.transport: asyncio.Transport | None = None
        self.request: Request | None = None
        self.session: MockSession | GeminiMockSession | None = None
        self._binary = False  # Google's server sends its JSON in binary frames
        self._head = bytearray()  # the request so far (its length is bounded by the protocol's parser)
        self._timer: asyncio.TimerHandle | None = None
        self._closer: asyncio.TimerHandle | None = None

    # --- asyncio's callbacks ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)
        # A connection that never finishes its handshake is dropped (asyncio's abort: no response).
        self._closer = self.loop.call_later(self.server.open_timeout_s, transport.abort)

    def data_received(self, data: bytes) -> None:
        if self.session is None:
            self._handshake(data)
            return
        self.reader.feed(data)
        self._flush()
        self._arm()

    def eof_received(self) -> bool | None:
        self.reader.feed(b"")  # before the handshake's end the reader hands everything to the protocol
        self._flush()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocol.receive_eof()  # idempotent: the protocol is CLOSED from here
        for timer in (self._timer, self._closer):
            if timer is not None:
                timer.cancel()
        self._timer = self._closer = None
        session = self.session
        if session is not None and session.end_reason == "open":
            code = self.protocol.close_code
            session.end_reason = "client closed" if code is None else f"client closed {code}"
        self.server.ended(self)

    # --- the handshake ----------------------------------------------------------------------------------

    def _handshake(self, data: bytes) -> None:
        # Where the request's head ends, the frames begin (ours to read by hand): the protocol gets the head only.
        start = len(self._head)
        self._head += data
        end = self._head.find(b"\r\n\r\n", max(start - 3, 0))
        frames = b""
        if end >= 0:
            data, frames = data[: end + 4 - start], data[end + 4 - start :]
            self._head = bytearray()
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Request):
                self._respond(event)
        self._flush()
        if self.session is not None and frames:
            self.data_received(frames)

    def _respond(self, request: Request) -> None:
        if self._closer is not None:  # the handshake is over (it ends here, accepted or refused)
            self._closer.cancel()
            self._closer = None
        response = self.server.check(request)
        if response is None:
            response = self.protocol.accept(request)  # or a 400/426 for a request that is no WebSocket handshake
        response.headers["Server"] = SERVER
        self.protocol.send_response(response)
        if response.status_code == 101:
            self.request = request
            self.session = self.server.session_for(request, self.loop.time())
            self._binary = isinstance(self.session, GeminiMockSession)
            self.reader.start()
            self._arm()

    # --- reading ----------------------------------------------------------------------------------------

    def _message(self, text: str) -> None:
        assert self.session is not None
        self.session.receive(text, self.loop.time())

    def _control(self, frame: Frame) -> None:
        """Pings are answered by the protocol, and a close frame is its to handle: nothing for the session."""

    # --- writing ----------------------------------------------------------------------------------------

    def _arm(self) -> None:
        """The writer's timer at the session's next due time, if that is sooner than it is set for."""
        session = self.session
        if session is None or self.protocol.state is not State.OPEN:
            return
        due = session.next_due()
        timer = self._timer
        if due is None or (timer is not None and timer.when() <= due):
            return
        if timer is not None:
            timer.cancel()
        self._timer = self.loop.call_at(due, self._wake)

    def _wake(self) -> None:
        """What is due now goes out; then the timer for what comes next."""
        self._timer = None
        session, transport = self.session, self.transport
        assert session is not None and transport is not None
        if self.protocol.state is not State.OPEN:
            return
        binary, frames = self._binary, []
        for output in session.outputs_due(self.loop.time()):
            match output:
                case Send(text=text):
                    frames.append(data_frame(text.encode(), binary))
                case CloseWithFrame(code=code, reason=reason):
                    transport.write(b"".join(frames))
                    self._close(code, reason)
                    return
                case Abort():
                    transport.write(b"".join(frames))
                    transport.abort()  # no close frame: the client sees 1006
                    return
        if frames:  # the events due at once (a response's start or end) in one system call
            transport.write(b"".join(frames))
        self._arm()

    def _close(self, code: int, reason: str) -> None:
        """A close frame; the connection ends when the client answers it, or after ``CLOSE_TIMEOUT_S``."""
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
            self._flush()
        if self._closer is None and self.transport is not None:
            self._closer = self.loop.call_later(CLOSE_TIMEOUT_S, self.transport.abort)

    def go_away(self) -> None:
        """The server is shutting down: 1001, and the TCP connection closed once that is written."""
        if self.session is not None and self.session.end_reason == "open":
            self.session.end_reason = "mock stopped: closed 1001"
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(1001, "")
            self._flush()
        if self.transport is not None:
            self.transport.close()

    def _flush(self) -> None:
        """What the protocol has to send: handshake responses, pongs, close frames; then, after a close or a
        refused handshake, the end of TCP (the server closes first, RFC 6455 §7.1.1)."""
        transport = self.transport
        assert transport is not None
        for data in self.protocol.data_to_send():
            if data:
                transport.write(data)
            else:
                transport.close()


class MockServerProcess:
    """The mock in a child process (so it never competes with Locust's gevent hub), as a context manager."""

    def __init__(
        self,
        time_scale: float = 1.0,
        api_key: str = "mock-key",
        seed: int = 0,
        extra_args: tuple[str, ...] = (),
        scenario: Path | None = None,
        truth: Path | None = None,
        entra_token: str | None = None,
    ) -> None:
        self.time_scale = time_scale
        self.api_key = api_key
        self.seed = seed
        self.extra_args = extra_args
        if scenario is not None:
            self.extra_args += ("--scenario", str(scenario))
        if truth is not None:
            self.extra_args += ("--truth", str(truth))
        self._environment = {**os.environ, ENTRA_TOKEN_ENV: entra_token} if entra_token else None
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> MockServerProcess:
        command = [sys.executable, "-m", "s2s_users", "mock", "--port", "0", "--time-scale", str(self.time_scale),
                   "--api-key", self.api_key, "--seed", str(self.seed), "--parent-pid", str(os.getpid()),
                   *self.extra_args]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=self._environment
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if "listening on" not in line:
            self.stop()
            raise S2SError(f"the embedded mock server did not start (it printed {line.strip()!r})")
        self.url = line.rsplit(" ", 1)[-1].strip()
        return self

    def url_for(self, path: str) -> str:
        """The mock's URL on another of its paths (Azure's, Gemini's)."""
        return urllib.parse.urlunsplit(urllib.parse.urlsplit(self.url)._replace(path=path))

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> MockServerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


# --- python -m s2s_users mock ---------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m s2s_users mock", description="The mock OpenAI Realtime GA server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--time-scale", type=float, default=1.0, help="divide all server-side timing by this")
    parser.add_argument("--api-key", default=DEFAULT_MOCK_API_KEY)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--ceiling-s",
        action="append",
        default=[],
        metavar="MODEL=SECONDS",
        help="set a model's audio ceiling (SECONDS=none removes it); repeatable",
    )
    parser.add_argument("--scenario", type=Path, help="TOML or JSON scenario file (see scenarios/ for examples)")
    parser.add_argument("--truth", type=Path, help="append one JSON line per session: what the mock really did")
    parser.add_argument(
        "--reuse-port",
        action="store_true",
        help="share --port with other mock processes (SO_REUSEPORT): one mock per core for heavy benchmarks",
    )
    parser.add_argument(
        "--entra-token-env",
        default=ENTRA_TOKEN_ENV,
        help="the environment variable holding a Microsoft Entra ID token that Azure paths accept as Bearer "
        "(a token is a secret: never on a command line)",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=0,
        help="exit when this process is gone (the embedded mock must not outlive a killed Locust worker)",
    )
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale must be more than 0")
    return args


async def run(args: argparse.Namespace) -> None:
    profiles = dict(DEFAULT_PROFILES)
    seed = args.seed
    if args.scenario is not None:
        try:
            scenario = load_scenario(args.scenario)
        except ConfigError as exc:
            raise SystemExit(f"error: {exc}") from None
        profiles = scenario.profiles
        seed = seed or scenario.seed
    for item in args.ceiling_s:
        model, _, seconds = item.partition("=")
        if model not in profiles:
            raise SystemExit(f"error: --ceiling-s names an unknown model {model!r}: use one of {sorted(profiles)}")
        profiles[model] = profiles[model].with_ceiling(None if seconds == "none" else float(seconds))
    voice_buffer(), quiet_buffer()  # made once, now: computed by the first answer, it held every session up ~0.1 s
    entra_token = os.environ.get(args.entra_token_env) or None
    mock = MockRealtimeServer(profiles, args.time_scale, args.api_key, seed, truth=args.truth, entra_token=entra_token)
    server = await mock.start(args.host, args.port, reuse_port=args.reuse_port)
    port = server.sockets[0].getsockname()[1] if server.sockets else args.port
    print(f"s2s mock listening on ws://{args.host}:{port}/v1/realtime", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.parent_pid:
        loop.create_task(_stop_when_orphaned(args.parent_pid, stop))
    await stop.wait()
    await mock.shut_down(server)
    mock.close()


async def _stop_when_orphaned(parent_pid: int, stop: asyncio.Event) -> None:
    # A SIGKILLed parent runs no clean-up: its child is re-parented, which is how we notice.
    while os.getppid() == parent_pid:
        await asyncio.sleep(1.0)
    stop.set()


def main(argv: list[str] | None = None) -> int:
    """``python -m s2s_users mock``: the mock, standalone, until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="mock: %(message)s")
    asyncio.run(run(parse_args(sys.argv[1:] if argv is None else argv)))
    return 0
