"""The mock over real sockets, in its own process, as the tester meets it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from s2s_users.io.mockserver import MockServerProcess

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
