"""Fixtures for the sink tests: a real InfluxDB (influxd 1.6 behind nginx) and a scripted HTTP stub."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from s2s_users.io.sinks.influx import InfluxSettings
from tests.support.influx import InfluxDatabase


@pytest.fixture
def settings(influx: InfluxDatabase, tmp_path: Path) -> InfluxSettings:
    return InfluxSettings(
        url=influx.url,
        token=influx.token,
        org="-",
        bucket=influx.name,
        spool_dir=tmp_path / "spool" / "worker-1",
        flush_interval_s=0.2,
        batch_size=500,
        close_deadline_s=20.0,
        request_timeout_s=10.0,
        max_backoff_s=0.5,
    )


@dataclass
class StubServer:
    """Answers every POST with ``status``; with ``hang`` set it never answers (until ``release``)."""

    status: int = 204
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    requests: list[str] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def stub() -> Iterator[StubServer]:
    state = StubServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.requests.append(self.path)
            state.received.set()
            if state.hang:
                state.release.wait(60)
                return
            self.send_response(state.status)
            for key, value in state.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
