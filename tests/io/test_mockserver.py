"""The mock over real sockets, in its own process, as the tester meets it."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from s2s_users.core.mock.profiles import DEFAULT_PROFILES
from s2s_users.io.mockserver import MockRealtimeServer, MockServerProcess

SPEECH = base64.b64encode(bytes(range(256)) * 100).decode()


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(time_scale=50.0, extra_args=("--ceiling-s", "gpt-realtime-2=2")) as server:
        yield server


def test_a_wrong_key_is_http_401(mock: MockServerProcess) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(f"{mock.url}?model=gpt-realtime", additional_headers={"Authorization": "Bearer nope"})
    assert info.value.response.status_code == 401


def test_an_unknown_model_is_http_404(mock: MockServerProcess) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(f"{mock.url}?model=gpt-nope", additional_headers={"Authorization": "Bearer mock-key"})
    assert info.value.response.status_code == 404
    assert b"gpt-realtime" in info.value.response.body


def turn(ws: object) -> list[dict[str, object]]:
    send = ws.send  # type: ignore[attr-defined]
    send(json.dumps({"type": "input_audio_buffer.append", "audio": SPEECH}))
    send(json.dumps({"type": "input_audio_buffer.commit"}))
    send(json.dumps({"type": "response.create"}))
    events = []
    while True:
        event = json.loads(ws.recv(timeout=10))  # type: ignore[attr-defined]
        events.append(event)
        if event["type"] == "response.done":
            return events


def test_the_ceiling_gives_zero_audio_then_a_drop_without_close_frame(mock: MockServerProcess) -> None:
    with connect(f"{mock.url}?model=gpt-realtime-2", additional_headers={"api-key": "mock-key"}) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        ws.send(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
                }
            )
        )
        assert json.loads(ws.recv(timeout=10))["type"] == "session.updated"
        first = turn(ws)
        assert any(e["type"] == "response.output_audio.delta" for e in first)  # at least 3 s: past the 2 s ceiling
        second = turn(ws)
        assert not any(e["type"] == "response.output_audio.delta" for e in second)
        with pytest.raises(ConnectionClosedError) as info:
            ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": SPEECH}))
            ws.recv(timeout=10)
        assert info.value.rcvd is None


GEMINI = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


def setup_frame(model: str = "gpt-realtime", **extra: object) -> str:
    return json.dumps({"setup": {"model": f"models/{model}", **extra}})


def test_gemini_answers_setup_with_setup_complete_in_a_binary_frame_and_a_turn_with_audio(
    mock: MockServerProcess,
) -> None:
    manual = {"realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}}}
    with connect(mock.url_for(GEMINI), additional_headers={"x-goog-api-key": "mock-key"}) as ws:
        ws.send(setup_frame(**manual))
        first = ws.recv(timeout=10)
        assert isinstance(first, bytes) and list(json.loads(first)) == ["setupComplete"]
        ws.send('{"realtime_input":{"activity_start":{}}}')  # snake_case, as the SDK partly sends
        ws.send(json.dumps({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": SPEECH}}}))
        ws.send('{"realtimeInput":{"activityEnd":{}}}')
        frames = []
        while not frames or not frames[-1].get("serverContent", {}).get("turnComplete"):
            frames.append(json.loads(ws.recv(timeout=10)))
        assert any("modelTurn" in f.get("serverContent", {}) for f in frames)
        assert frames[-1]["usageMetadata"]["responseTokenCount"] > 0


@pytest.mark.parametrize(
    ("url_path", "headers", "first", "code", "reason"),
    [
        (GEMINI, {"x-goog-api-key": "nope"}, setup_frame(), 1007, "API key not valid"),
        (GEMINI + "?key=mock-key", {}, setup_frame("gemini-nope"), 1008, "models/gemini-nope is not found"),
        (GEMINI + "?key=mock-key", {}, '{"realtimeInput":{"activityEnd":{}}}', 1007, "setup must come first"),
    ],
    ids=["bad-key", "unknown-model", "no-setup"],
)
def test_gemini_refusals_are_close_frames_as_googles_are(
    mock: MockServerProcess, url_path: str, headers: dict[str, str], first: str, code: int, reason: str
) -> None:
    with connect(mock.url_for(url_path), additional_headers=headers) as ws:
        ws.send(first)
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == code and reason in info.value.rcvd.reason


def test_voice_live_needs_an_api_version() -> None:
    with MockServerProcess(time_scale=50.0) as server:
        url = server.url_for("/voice-live/realtime") + "?model=gpt-realtime"
        with pytest.raises(InvalidStatus) as info:
            connect(url, additional_headers={"api-key": "mock-key"})
        assert info.value.response.status_code == 400
        with connect(url + "&api-version=2026-04-10", additional_headers={"api-key": "mock-key"}) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"


def test_azure_paths_take_the_entra_token_as_bearer_and_nothing_else_as_bearer() -> None:
    with MockServerProcess(time_scale=50.0, api_key="k", entra_token="entra") as server:
        azure = server.url_for("/openai/v1/realtime") + "?model=gpt-realtime"
        with connect(azure, additional_headers={"Authorization": "Bearer entra"}) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        with connect(azure, additional_headers={"api-key": "k"}) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        with pytest.raises(InvalidStatus) as info:
            connect(azure, additional_headers={"Authorization": "Bearer k"})
        assert info.value.response.status_code == 401
        with connect(f"{server.url}?model=gpt-realtime", additional_headers={"Authorization": "Bearer k"}) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"  # OpenAI's path: the key as Bearer


def test_a_stopped_mock_closes_open_sessions_with_1001_and_logs_their_truth(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    mock = MockServerProcess(truth=truth).start()
    try:
        with connect(f"{mock.url}?model=gpt-realtime", additional_headers={"Authorization": "Bearer mock-key"}) as ws:
            session_id = json.loads(ws.recv(timeout=10))["session"]["id"]
            assert ws.ping().wait(10)  # the client's pings are answered (the mock sends none of its own)
            mock.stop()
            with pytest.raises(ConnectionClosed) as info:  # the close frame came before the end of TCP
                ws.recv(timeout=10)
    finally:
        mock.stop()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    [line] = [json.loads(line) for line in truth.read_text().splitlines()]
    assert line["session_id"] == session_id and line["end"] == "mock stopped: closed 1001"


def test_a_connection_that_never_finishes_its_handshake_is_dropped_after_the_open_timeout() -> None:
    async def scenario() -> tuple[bytes, int]:
        mock = MockRealtimeServer(DEFAULT_PROFILES, 1.0, "mock-key", 0)
        mock.open_timeout_s = 0.2
        server = await mock.start("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\n")  # and nothing more
        try:
            data = await asyncio.wait_for(reader.read(), 5)
        except ConnectionResetError:
            data = b""
        open_after = len(mock.connections)
        writer.close()
        await mock.shut_down(server)
        return data, open_after

    assert asyncio.run(scenario()) == (b"", 0)  # dropped, without a response, and forgotten
