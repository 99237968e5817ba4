"""The I/O loop over real sockets: a scripted websockets server on 127.0.0.1, port 0, in a thread.

These tests pin the one exception boundary: how handshake failures, close frames and silent drops become
taxonomy codes.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gevent
import pytest
import soundfile as sf
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from s2s_users.core.config import RecordAudio
from s2s_users.core.engine.conversation import Conversation
from s2s_users.core.engine.pacing import Pace
from s2s_users.core.engine.script import build_script
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.metrics.records import SessionLabels, SessionRecord, TurnRecord
from s2s_users.core.preflight import HandshakeOutcome, Problem
from s2s_users.core.protocols.openai_realtime import OpenAIRealtimeProtocol, RealtimeSettings, connect_request
from s2s_users.io.evidence import EvidenceStore, SessionEvidence
from s2s_users.io.pump import Pump
from s2s_users.io.session import preflight, run_session

LABELS = SessionLabels("run", "m", "openai", "marin", "manual", "default", "local")
AUDIO = base64.b64encode(b"\x00\x40\x00\xc0" * 1200).decode()  # 100 ms, -6 dBFS


def send(ws: ServerConnection, **message: Any) -> None:
    ws.send(json.dumps(message))


def open_session(ws: ServerConnection) -> None:
    send(ws, type="session.created", session={"id": "sess_T"})
    assert json.loads(ws.recv())["type"] == "session.update"
    send(ws, type="session.updated", session={})


def await_turn(ws: ServerConnection) -> None:
    """Read client messages until response.create."""
    while json.loads(ws.recv())["type"] != "response.create":
        pass


def answer(ws: ServerConnection, deltas: int = 3) -> None:
    send(ws, type="response.created", response={"id": "r"})
    for _ in range(deltas):
        send(ws, type="response.output_audio.delta", delta=AUDIO)
    send(ws, type="response.done", response={"id": "r", "status": "completed"})


@contextmanager
def server(handler: Callable[[ServerConnection], None], status: int | None = None) -> Iterator[str]:
    def reject(connection: ServerConnection, request: Request) -> Response | None:
        return connection.respond(status, "rejected\n") if status else None

    with serve(handler, "127.0.0.1", 0, process_request=reject) as srv:
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{srv.socket.getsockname()[1]}/v1/realtime"
        srv.shutdown()


@pytest.fixture(params=[False, True], ids=["own loop", "pumped"])
def pump(request: pytest.FixtureRequest) -> Pump | None:
    """Every session here is played both ways: in its own greenlet's loop, and driven by a pump (``io/pump.py``)."""
    return Pump() if request.param else None


def play(
    url: str, pump: Pump | None, turns: int = 2, turn_timeout_s: float = 5.0
) -> tuple[SessionRecord, list[TurnRecord]]:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    script = build_script([("p1", bytes(4800))], 24_000, 20)
    settings = EngineSettings(turns=turns, pace=Pace(None), think_time_s=0.0, turn_timeout_s=turn_timeout_s)
    conversation = Conversation(script, settings, LABELS, now=time.monotonic(), counts=adapter.counts)
    live: list[TurnRecord] = []
    sessions: list[SessionRecord] = []
    request = connect_request(url, "m", "key")
    record = run_session(request, adapter, conversation, live.append, sessions.append, pump=pump)
    assert sessions == [record]  # reported exactly once
    return record, live


def test_a_healthy_session_completes_and_closes_with_1000(pump: Pump | None) -> None:
    def handler(ws: ServerConnection) -> None:
        open_session(ws)
        for _ in range(2):
            await_turn(ws)
            answer(ws)
        ws.recv()  # until the client closes

    with server(handler) as url:
        record, live = play(url, pump)
    assert record.outcome == "completed" and record.turns_completed == 2
    assert [t.turn for t in live] == [1, 2]
    assert record.close_code == 1000 and record.close_frame_received is True
    assert record.assistant_audio_s == 0.6


def play_and_print_the_turn(url: str, pumped: bool) -> None:
    """A session in a process of its own (the test freezes it), its one turn printed as JSON."""
    player = gevent.spawn(play, url, Pump() if pumped else None, 1)
    record, live = player.get(timeout=30)
    print(json.dumps({"outcome": record.outcome, "turn": dataclasses.asdict(live[0]) if live else None}))


def test_an_answer_that_came_while_the_worker_was_frozen_keeps_the_servers_time_to_first_audio(
    pump: Pump | None,
) -> None:
    client: list[subprocess.Popen[str]] = []

    def handler(ws: ServerConnection) -> None:
        open_session(ws)
        await_turn(ws)
        client[0].send_signal(signal.SIGSTOP)  # the worker busy elsewhere: nothing reads
        answer(ws)  # at once
        time.sleep(0.4)
        client[0].send_signal(signal.SIGCONT)
        ws.recv()  # until the client closes

    with server(handler) as url:
        code = f"from tests.io.test_session import play_and_print_the_turn as p; p({url!r}, {pump is not None})"
        client.append(subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True))
        out, _ = client[0].communicate(timeout=60)
    result = json.loads(out.splitlines()[-1])
    assert result["outcome"] == "completed"
    # Heard when it reached the machine (the kernel's stamp), not after the 0.4 s the worker took to read it.
    turn = result["turn"]
    assert turn["ttfa_ms"] < 200 and turn["response_ms"] < 200


def test_a_drop_without_close_frame_is_transport_closed_no_frame(pump: Pump | None) -> None:
    def handler(ws: ServerConnection) -> None:
        open_session(ws)
        await_turn(ws)
        ws.socket.shutdown(socket.SHUT_RDWR)  # TCP goes away, no close frame

    with server(handler) as url:
        record, _ = play(url, pump)
    assert record.failure_class == "transport.closed_no_frame" and record.failure_turn == 1
    assert record.close_frame_received is False and record.close_code is None


def test_a_close_frame_mid_session_is_transport_closed_frame_with_its_code(pump: Pump | None) -> None:
    def handler(ws: ServerConnection) -> None:
        open_session(ws)
        await_turn(ws)
        ws.close(1011, "internal error")

    with server(handler) as url:
        record, _ = play(url, pump)
    assert record.failure_class == "transport.closed_frame"
    assert (record.close_code, record.close_reason, record.close_frame_received) == (1011, "internal error", True)


def test_the_session_cap_close_is_session_expired(pump: Pump | None) -> None:
    def handler(ws: ServerConnection) -> None:
        open_session(ws)
        ws.close(1001, "Your session hit the maximum duration of 60 minutes.")

    with server(handler) as url:
        record, _ = play(url, pump)
    assert record.outcome == "expired" and record.end_class == "session.expired" and record.failure_class is None


def test_an_http_401_is_connect_rejected_with_a_hint(pump: Pump | None) -> None:
    with server(lambda ws: None, status=401) as url:
        record, _ = play(url, pump)
    assert record.failure_class == "connect.rejected" and record.failure_turn == 0
    assert record.http_status == 401  # typed, so nobody has to read it back out of the message
    assert (
        record.failure_detail
        == f"HTTP 401 from {url}: the API key was refused: check S2S_API_KEY or OPENAI_API_KEY (or --s2s-api-key)"
    )


def test_nothing_listening_is_connect_rejected_naming_the_url(pump: Pump | None) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    record, _ = play(f"ws://127.0.0.1:{port}/v1/realtime", pump)
    assert record.failure_class == "connect.rejected" and record.http_status is None
    assert record.failure_detail is not None and record.failure_detail.startswith(
        f"cannot connect to ws://127.0.0.1:{port}"
    )


def test_a_server_that_goes_quiet_is_a_timeout_and_we_close_the_socket(pump: Pump | None) -> None:
    closed = threading.Event()

    def handler(ws: ServerConnection) -> None:
        open_session(ws)
        await_turn(ws)
        try:
            ws.recv()
        finally:
            closed.set()

    with server(handler) as url:
        record, _ = play(url, pump, turn_timeout_s=0.5)
    assert record.failure_class == "timeout.first_audio"
    assert closed.wait(5)


def test_a_failed_session_leaves_its_wire_trail_and_the_audio_of_its_failing_turn_in_the_run_folder(
    tmp_path: Path,
) -> None:
    def handler(ws: ServerConnection) -> None:
        open_session(ws)
        await_turn(ws)
        send(ws, type="response.created", response={"id": "r1"})
        for _ in range(2):
            send(ws, type="response.output_audio.delta", delta=AUDIO, response_id="r1")
        send(ws, type="response.done", response={"id": "r1", "status": "completed"})
        await_turn(ws)
        send(ws, type="response.created", response={"id": "r2"})
        send(ws, type="response.done", response={"id": "r2", "status": "completed"})  # zero audio
        ws.recv()
        ws.socket.shutdown(socket.SHUT_RDWR)  # then the drop, no close frame

    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    script = build_script([("p1", b"\x00\x10" * 4800)], 24_000, 20)
    settings = EngineSettings(turns=3, pace=Pace(None), think_time_s=0.0, turn_timeout_s=5.0)
    evidence = SessionEvidence(
        EvidenceStore(tmp_path, 10_000_000), RecordAudio.FAILURES, script, 24_000, 24_000, "local",
        session_id=lambda: conversation.session_id,
    )  # fmt: skip
    conversation = Conversation(
        script, settings, LABELS, now=time.monotonic(), counts=adapter.counts, tape=evidence.tape
    )
    sessions: list[SessionRecord] = []
    with server(handler) as url:
        request = connect_request(url, "m", "key")
        record = run_session(request, adapter, conversation, lambda t: None, sessions.append, evidence=evidence)
    assert sessions == [record] and record.failure_class == "response.zero_audio"
    assert record.evidence == tuple(
        f"evidence/sess_T/{name}"
        for name in ("flight.jsonl", "turn-001-assistant.wav", "turn-001-user.wav", "turn-002-assistant.wav",
                     "turn-002-user.wav")
    )  # fmt: skip
    trail = [json.loads(line) for line in (tmp_path / "evidence/sess_T/flight.jsonl").read_text().splitlines()]
    kinds = [(e["direction"], e["kind"]) for e in trail]
    assert kinds[0] == ("connection", "handshake.ok") and ("sent", "session.update") in kinds
    done = [e for e in trail if e["kind"] == "response.done"]
    assert done[-1]["note"] == "status completed, 0 audio bytes in this response" and done[-1]["response_id"] == "r2"
    assert done[0]["note"] == "status completed, 9600 audio bytes in this response"
    assert trail[-2]["kind"] in ("closed", "error") and "no close frame" in trail[-2]["note"]
    assert trail[-1]["kind"] == "session.end" and "ended by transport.closed_no_frame" in trail[-1]["note"]
    text = (tmp_path / "evidence/sess_T/flight.jsonl").read_text()
    assert "key" not in text.replace("kind", "") and AUDIO[:40] not in text  # no secrets, no payloads
    assert sf.info(tmp_path / "evidence/sess_T/turn-001-assistant.wav").duration == record.turns[0].assistant_audio_s
    assert sf.info(tmp_path / "evidence/sess_T/turn-002-assistant.wav").frames == 0
    assert sf.info(tmp_path / "evidence/sess_T/turn-002-user.wav").duration == 0.2


# --- the preflight: one handshake through the same boundary ----------------------------------------------


def test_the_preflight_types_a_refused_connection_a_bad_status_and_a_success() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = connect_request(f"ws://127.0.0.1:{port}/v1/realtime", "m", "k")
    assert preflight(request).problem is Problem.REFUSED
    with server(lambda ws: None, status=401) as url:
        outcome = preflight(connect_request(url, "m", "k"))
    assert (outcome.problem, outcome.http_status) == (Problem.HTTP_STATUS, 401)
    closed = threading.Event()

    def handler(ws: ServerConnection) -> None:
        try:
            ws.recv()
        except Exception:  # noqa: BLE001 - the close is what we wait for
            closed.set()

    with server(handler) as url:
        assert preflight(connect_request(url, "m", "k")) == HandshakeOutcome()
        assert closed.wait(5)  # the probe closed its connection at once


def test_the_preflight_types_dns_and_tls_failures() -> None:
    assert preflight(connect_request("ws://no-such-host.invalid/v1/realtime", "m", "k")).problem is Problem.DNS
    with server(lambda ws: None) as url:
        outcome = preflight(connect_request(url.replace("ws://", "wss://"), "m", "k"))
    assert outcome.problem is Problem.TLS
