"""The asyncio shell of the mock: a ``websockets`` server that drives one ``MockSession`` per connection.

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
import math
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

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from s2s_users.core.exceptions import ConfigError, S2SError
from s2s_users.core.mock.behavior import MockSession
from s2s_users.core.mock.gemini_resumption import ResumptionRegistry
from s2s_users.core.mock.gemini_session import GeminiMockSession
from s2s_users.core.mock.outputs import Abort, CloseWithFrame, Send
from s2s_users.core.mock.profiles import DEFAULT_MOCK_API_KEY, DEFAULT_PROFILES, ModelProfile
from s2s_users.core.mock.scenario import load_scenario
from s2s_users.core.mock.voice import quiet_buffer, voice_buffer
from s2s_users.core.protocols import gemini_wire

log = logging.getLogger("s2s_users.mock")
ENTRA_TOKEN_ENV = "S2S_MOCK_ENTRA_TOKEN"
OPENAI_PATH = "/v1/realtime"
#: Azure OpenAI realtime (GA v1) and Azure AI Voice Live: the OpenAI protocol, Azure's auth.
AZURE_PATHS = ("/openai/v1/realtime", "/voice-live/realtime")
PATHS = (OPENAI_PATH, *AZURE_PATHS)
GEMINI_PATHS = gemini_wire.PATHS


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


class _Waker:
    """A sleep that a client message can cut short: one timer handle, no task, per wait."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] | None = None
        self._until = math.inf

    async def sleep(self, delay: float | None) -> None:
        self._future = self._loop.create_future()
        timer = None if delay is None else self._loop.call_later(delay, self.poke)
        self._until = math.inf if delay is None else self._loop.time() + delay
        try:
            await self._future
        finally:
            if timer is not None:
                timer.cancel()
            self._future = None

    def poke(self) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    def poke_if_sooner(self, due: float | None) -> None:
        """Wake the writer only if something is now due before it would wake anyway. Most client messages (the
        prompt's appends, 50 a second per session) schedule nothing: waking the writer for each, to find nothing
        to send and arm a new timer, was a third of the mock's work at load."""
        if due is not None and due < self._until:
            self.poke()


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

    def check(self, connection: ServerConnection, request: Request) -> Response | None:
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

    def _session(self, request: Request, now: float) -> MockSession | GeminiMockSession:
        url = urllib.parse.urlsplit(request.path)
        seed = self.seed * 1_000_003 + next(self._sessions)
        if url.path in GEMINI_PATHS:
            key_ok = self._accepts(url.path, request)
            return GeminiMockSession(self.profiles, self.resumable, self.time_scale, seed, now, key_ok=key_ok)
        model = dict(urllib.parse.parse_qsl(url.query))["model"]
        session = MockSession(self.profiles[model], self.time_scale, seed, now, wall_offset=time.time() - now)
        log.info("session %s model %s", session.session_id, model)
        return session

    async def handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        loop = asyncio.get_running_loop()
        session = self._session(ws.request, loop.time())
        binary = isinstance(session, GeminiMockSession)  # Google's server sends its JSON in binary frames
        # One task reads client messages; this one writes what is due and sleeps until the next due time (or
        # until a client message may have scheduled something sooner). No per-message timers: cheap at load.
        waker = _Waker(loop)
        reader = asyncio.create_task(self._read(ws, session, waker))
        try:
            while True:
                for output in session.outputs_due(loop.time()):
                    match output:
                        case Send(text=text):
                            await ws.send(text.encode() if binary else text)
                        case CloseWithFrame(code=code, reason=reason):
                            await ws.close(code, reason)
                            return
                        case Abort():
                            ws.transport.abort()  # no close frame: the client sees 1006
                            return
                if reader.done():
                    reader.result()  # raises ConnectionClosed when the client went away
                    return
                due = session.next_due()
                if due is None or due > loop.time():
                    await waker.sleep(None if due is None else due - loop.time())
        except ConnectionClosed:
            return
        finally:
            reader.cancel()
            if session.end_reason == "open":
                client_code = ws.close_code
                session.end_reason = "client closed" if client_code is None else f"client closed {client_code}"
            path = urllib.parse.urlsplit(ws.request.path).path
            auth = credential(ws.request)[0]
            if path in AZURE_PATHS and auth == "bearer" and self.entra_token is not None:
                auth = "entra"  # only the Entra token opens an Azure path as a Bearer token
            self.record_truth({**session.truth(), "path": path, "auth": auth})

    @staticmethod
    async def _read(ws: ServerConnection, session: MockSession | GeminiMockSession, waker: _Waker) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for message in ws:
                session.receive(message if isinstance(message, str) else message.decode(), loop.time())
                waker.poke_if_sooner(session.next_due())
        finally:
            waker.poke()  # the writer must notice the end of the connection

    async def start(self, host: str, port: int, reuse_port: bool = False) -> Server:
        """Listen; with ``reuse_port`` several mock processes share the port (the kernel spreads connections)."""
        return await serve(
            self.handle,
            host,
            port,
            process_request=self.check,
            compression=None,
            max_size=16 * 1024 * 1024,
            reuse_port=reuse_port or None,
        )


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
    server.close()
    await server.wait_closed()
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
