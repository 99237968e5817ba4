"""The pump over real sockets: several sessions in one driving greenlet, what only the pump can get wrong (a message
that came with the handshake, a session killed while driven, the keepalive, TLS records), against servers on
127.0.0.1.

What every session meets (close frames, drops, timeouts, hostile bytes, a server that stops reading) is played
pumped as well as in the session's own loop by ``test_session.py`` and ``test_transport_fuzz.py``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import pytest
from gevent.event import Event
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.sync.server import ServerConnection, serve

from s2s_users.core.engine.conversation import Conversation
from s2s_users.core.engine.pacing import Pace
from s2s_users.core.engine.script import build_script
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.metrics.records import SessionRecord, TurnRecord
from s2s_users.core.protocols.openai_realtime import OpenAIRealtimeProtocol, RealtimeSettings, connect_request
from s2s_users.io.pump import Pump
from s2s_users.io.session import run_session
from s2s_users.io.transport import TransportOptions
from tests.io.test_session import LABELS, answer, await_turn, open_session, send, server
from tests.io.test_transport import connect_proxy
from tests.io.test_transport_fuzz import HEALTHY_ANSWER, OPTIONS, Attack, hostile_server, serving

SESSION_MESSAGES = [
    {"type": "session.created", "session": {"id": "sess_H"}},
    {"type": "session.updated", "session": {}},
]


def session(
    url: str,
    pump: Pump,
    turns: int,
    think_time_s: float = 0.0,
    on_turn: list[TurnRecord] | None = None,
    options: TransportOptions = OPTIONS,
    ended: list[SessionRecord] | None = None,
) -> SessionRecord:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    script = build_script([("p1", bytes(4800))], 24_000, 20)
    settings = EngineSettings(turns=turns, pace=Pace(None), think_time_s=think_time_s, turn_timeout_s=5.0)
    conversation = Conversation(script, settings, LABELS, now=time.monotonic(), counts=adapter.counts)
    heard = on_turn if on_turn is not None else []
    records = ended if ended is not None else []
    request = connect_request(url, "m", "key")
    return run_session(request, adapter, conversation, heard.append, records.append, options, pump=pump)


def answering(turns: int) -> Callable[[ServerConnection], None]:
    def handler(ws: ServerConnection) -> None:
        open_session(ws)
        for _ in range(turns):
            await_turn(ws)
            answer(ws)
        with contextlib.suppress(Exception):
            ws.recv()  # until the client closes

    return handler


def test_several_sessions_share_one_pump_and_each_plays_all_its_turns() -> None:
    pump = Pump()
    with server(answering(3)) as url:
        players = [gevent.spawn(session, url, pump, 3, 0.05) for _ in range(4)]
        gevent.joinall(players, timeout=30, raise_error=True)
    records = [player.value for player in players]
    assert [(r.outcome, r.turns_completed, r.close_code) for r in records] == [("completed", 3, 1000)] * 4
    assert pump.driving == 0  # every connection was let go, and the pump's greenlet with them


def test_a_session_killed_while_driven_is_recorded_as_stopped_and_the_others_play_on() -> None:
    pump = Pump()
    first_turn = Event()

    class Heard(list[TurnRecord]):
        def append(self, turn: TurnRecord) -> None:
            super().append(turn)
            first_turn.set()

    heard = Heard()
    victim_record: list[SessionRecord] = []
    with server(answering(2)) as url:
        # A long think after its first turn, in which it is stopped.
        victim = gevent.spawn(session, url, pump, 2, 2.0, heard, OPTIONS, victim_record)
        other = gevent.spawn(session, url, pump, 2, 0.3)
        assert first_turn.wait(10)
        victim.kill(block=True, timeout=5)  # Locust stopping its user
        assert pump.driving == 1
        other_record = other.get(timeout=30)
    assert [t.outcome for t in heard] == ["ok"]
    (stopped,) = victim_record
    assert (stopped.end_class, stopped.turns_completed) == ("harness.stopped", 1)
    assert (other_record.outcome, other_record.turns_completed) == ("completed", 2)
    assert pump.driving == 0


@contextlib.contextmanager
def eager_server() -> Iterator[str]:
    """Sends its handshake response, ``session.created`` and ``session.updated`` in one write, then nothing until
    the client asks for a response: the client only gets going if it hears the messages that reached it in the read
    that ended its handshake (the socket does not turn readable for them)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        with contextlib.suppress(OSError), listener.accept()[0] as conn:
            protocol = ServerProtocol()
            while not (events := protocol.events_received()):
                protocol.receive_data(conn.recv(65536))
            (request,) = events
            assert isinstance(request, Request)
            protocol.send_response(protocol.accept(request))
            protocol.send_text(json.dumps(SESSION_MESSAGES[0]).encode())
            protocol.send_text(json.dumps(SESSION_MESSAGES[1]).encode())
            conn.sendall(b"".join(protocol.data_to_send()))
            while data := conn.recv(65536):
                protocol.receive_data(data)
                for frame in protocol.events_received():
                    if isinstance(frame, Frame) and frame.opcode is Opcode.TEXT and b'"response.create"' in frame.data:
                        for message in HEALTHY_ANSWER:
                            protocol.send_text(json.dumps(message).encode())
                conn.sendall(b"".join(protocol.data_to_send()))

    with serving(listener, serve) as url:
        yield url


def test_messages_read_with_the_handshake_are_heard_without_the_socket_turning_readable() -> None:
    with eager_server() as url:
        started = time.monotonic()
        record = session(url, Pump(), turns=1)
    assert (record.outcome, record.session_id, record.turns_completed) == ("completed", "sess_H", 1)
    assert time.monotonic() - started < 5.0  # not at the set-up deadline


def test_the_pump_sends_keepalive_pings_and_a_missing_pong_ends_the_session() -> None:
    # The hostile server reads and drops our frames, pings included: no pong ever comes.
    options = dataclasses.replace(OPTIONS, ping_interval_s=0.05, ping_timeout_s=0.2)
    with hostile_server(Attack("quiet", ()), open_turn=False) as url:
        started = time.monotonic()
        record = session(url, Pump(), turns=1, options=options)
    assert record.end_class == "transport.closed_no_frame"
    assert record.close_reason is not None and "keepalive ping timeout" in record.close_reason
    assert time.monotonic() - started < 4.0  # long before the 5 s set-up deadline


def test_over_tls_messages_spanning_many_records_are_all_heard(tls_context: tuple[ssl.SSLContext, ...]) -> None:
    server_context, client_context = tls_context
    second = base64.b64encode(b"\x00\x40\x00\xc0" * 12_000).decode()  # 1 s of audio: 64 KB of text, 4+ TLS records

    def handler(ws: ServerConnection) -> None:
        open_session(ws)
        for turn in range(2):
            await_turn(ws)
            send(ws, type="response.created", response={"id": f"r{turn}"})
            for _ in range(3):
                send(ws, type="response.output_audio.delta", delta=second, response_id=f"r{turn}")
            send(ws, type="response.done", response={"id": f"r{turn}", "status": "completed"})
        with contextlib.suppress(Exception):
            ws.recv()

    options = dataclasses.replace(OPTIONS, ssl_context=client_context)
    with serve(handler, "127.0.0.1", 0, ssl=server_context) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"wss://127.0.0.1:{srv.socket.getsockname()[1]}/v1/realtime"
        turns: list[TurnRecord] = []
        record = session(url, Pump(), turns=2, on_turn=turns, options=options)
        srv.shutdown()
    assert (record.outcome, record.turns_completed, record.close_code) == ("completed", 2, 1000)
    assert [turn.audio_bytes for turn in turns] == [3 * 48_000] * 2


def play_patched(url: str, cafile: str, sessions: int) -> None:
    """As a Locust worker plays it (gevent's sockets: ``monkey.patch_all`` ran first): pumped sessions of two turns
    each, their records printed as JSON."""
    options = dataclasses.replace(OPTIONS, ssl_context=ssl.create_default_context(cafile=cafile), use_proxy=True)
    pump = Pump()
    players = [gevent.spawn(session, url, pump, 2, 0.05, None, options) for _ in range(sessions)]
    gevent.joinall(players, timeout=30, raise_error=True)
    print(json.dumps([[p.value.outcome, p.value.turns_completed, p.value.close_code] for p in players]))


@pytest.mark.parametrize("through", ["direct", "https proxy"])
def test_under_gevents_sockets_the_pump_plays_wss_directly_and_through_an_https_proxy(
    through: str, tls_files: tuple[Path, Path], tls_context: tuple[ssl.SSLContext, ...]
) -> None:
    # The pump reads and sends through a gevent socket's own socket underneath; an HTTPS proxy's socket is gevent's
    # SSLSocket, whose own socket underneath carries the proxy's TLS: read there, our TLS would meet its records.
    server_context, _ = tls_context
    with serve(answering(2), "127.0.0.1", 0, ssl=server_context) as srv, connect_proxy(server_context) as (proxy, _):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"wss://127.0.0.1:{srv.socket.getsockname()[1]}/v1/realtime"
        proxied = through == "https proxy"
        sessions = 1 if proxied else 2  # the proxy serves one connection
        env = {**os.environ, "https_proxy": proxy, "no_proxy": "" if proxied else "127.0.0.1"}
        env["SSL_CERT_FILE"] = str(tls_files[0])  # how the proxy's certificate is trusted
        code = (
            "from gevent import monkey; monkey.patch_all(); from tests.io.test_pump import play_patched; "
            f"play_patched({url!r}, {str(tls_files[0])!r}, {sessions})"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
        srv.shutdown()
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.splitlines()[-1]) == [["completed", 2, 1000]] * sessions
