"""The mock's behaviour, driven purely with a fake clock."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from s2s_users.core.mock.behavior import MockSession
from s2s_users.core.mock.outputs import Abort, Send
from s2s_users.core.mock.profiles import DEFAULT_PROFILES, ModelProfile
from s2s_users.core.mock.user_input import decoded_length

SPEECH = (np.sin(np.arange(24_000) / 5) * 8000).astype("<i2").tobytes()  # 1 s loud
SILENCE = bytes(2 * 24_000 * 6 // 10)  # 600 ms


def drain(session: MockSession, until: float = 1e9) -> list[dict[str, Any]]:
    out = []
    for item in session.outputs_due(until):
        assert isinstance(item, Send)
        out.append(json.loads(item.text))
    return out


def client(mock: MockSession, now: float = 0.0, **message: Any) -> None:
    mock.receive(json.dumps(message), now)


def append(session: MockSession, pcm: bytes) -> None:
    client(session, type="input_audio_buffer.append", audio=base64.b64encode(pcm).decode())


def manual(profile: ModelProfile = DEFAULT_PROFILES["gpt-realtime"], time_scale: float = 1.0) -> MockSession:
    session = MockSession(profile, time_scale, seed=1, now=0.0)
    client(session, type="session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    return session


def test_session_created_comes_first_and_names_the_session() -> None:
    session = MockSession(DEFAULT_PROFILES["gpt-realtime"], 1.0, seed=1, now=0.0)
    first = drain(session)[0]
    assert first["type"] == "session.created" and first["session"]["id"] == session.session_id


def test_session_update_without_type_is_an_error_and_the_session_goes_on() -> None:
    session = MockSession(DEFAULT_PROFILES["gpt-realtime"], 1.0, seed=1, now=0.0)
    client(session, type="session.update", event_id="c1", session={"instructions": "x"})
    error = drain(session)[-1]
    assert error["error"]["code"] == "missing_required_parameter" and error["error"]["event_id"] == "c1"
    assert session.turn_detection is not None  # still on defaults: server VAD


def test_a_manual_turn_streams_the_full_event_order_and_exact_audio() -> None:
    session = manual()
    append(session, SPEECH)
    client(session, type="input_audio_buffer.commit")
    client(session, type="response.create")
    events = drain(session)
    kinds = [e["type"] for e in events]
    assert kinds.index("input_audio_buffer.committed") < kinds.index("response.created")
    assert kinds[-1] == "response.done" and events[-1]["response"]["status"] == "completed"
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    assert len(audio) == round(session.assistant_audio_s * 24_000) * 2
    assert 2.5 <= session.assistant_audio_s <= 9.5
    assert events[-1]["response"]["usage"]["input_token_details"]["audio_tokens"] == 10


def test_a_commit_under_100_ms_is_refused() -> None:
    session = manual()
    append(session, SPEECH[:2400])  # 50 ms
    client(session, type="input_audio_buffer.commit")
    assert drain(session)[-1]["error"]["code"] == "input_audio_buffer_commit_empty"


def test_a_second_response_create_during_a_response_is_refused() -> None:
    session = manual()
    append(session, SPEECH)
    client(session, type="input_audio_buffer.commit")
    client(session, type="response.create")
    client(session, type="response.create")
    errors = [e for e in drain(session, until=0.0) if e["type"] == "error"]
    assert [e["error"]["code"] for e in errors] == ["conversation_already_has_active_response"]


def test_server_vad_detects_the_end_of_speech_and_answers() -> None:
    session = MockSession(DEFAULT_PROFILES["gpt-realtime"], 1.0, seed=1, now=0.0)
    append(session, SPEECH)
    append(session, SILENCE)
    events = drain(session)
    kinds = [e["type"] for e in events]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("input_audio_buffer.speech_stopped")
    assert "response.done" in kinds
    # one item id for the whole user turn, as the real service does
    started, stopped, committed = (
        next(e for e in events if e["type"] == kind)
        for kind in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                     "input_audio_buffer.committed")
    )  # fmt: skip
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    assert 0 <= started["audio_start_ms"] < stopped["audio_end_ms"] <= 1600


def test_time_scale_speeds_up_streaming_but_not_the_audio_amount() -> None:
    slow, fast = manual(), manual(time_scale=10.0)
    for session in (slow, fast):
        append(session, SPEECH)
        client(session, type="input_audio_buffer.commit")
        client(session, type="response.create")
    slow_end, fast_end = done_at(slow), done_at(fast)
    assert abs(fast_end * 10 - slow_end) < 1e-9 and slow_end > 1.0
    assert slow.assistant_audio_s == fast.assistant_audio_s


def test_the_truth_says_when_each_response_was_asked_for_and_its_first_audio_went_out() -> None:
    session = MockSession(DEFAULT_PROFILES["gpt-realtime"], 1.0, seed=1, now=10.0, wall_offset=1_000.0)
    client(
        session, 10.0, type="session.update", session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    append(session, SPEECH)
    client(session, 10.0, type="input_audio_buffer.commit")
    client(session, 10.25, type="response.create")
    first_delta = None
    while (due := session.next_due()) is not None and first_delta is None:
        sent = [i for i in session.outputs_due(due + 0.003) if isinstance(i, Send) and i.audio_samples]
        first_delta = due + 0.003 if sent else None  # sent 3 ms after it was due (a busy server)
    truth = session.truth()
    assert truth["turn_asked_at"] == [1_010.25]
    assert truth["turn_first_audio_at"] == [round(1_000 + first_delta, 6)]  # when it went out, not when it was due
    assert first_delta == pytest.approx(10.25 + DEFAULT_PROFILES["gpt-realtime"].ttfa_s + 0.003)


def done_at(session: MockSession) -> float:
    """Step the session's clock from one due time to the next until response.done goes out."""
    while (due := session.next_due()) is not None:
        for item in session.outputs_due(due):
            if isinstance(item, Send) and json.loads(item.text)["type"] == "response.done":
                return due
    raise AssertionError("no response.done")


def test_past_the_ceiling_a_completed_zero_audio_response_then_an_abort() -> None:
    session = manual(DEFAULT_PROFILES["gpt-realtime-2"].with_ceiling(20.0))
    for _ in range(10):
        append(session, SPEECH)
        client(session, type="input_audio_buffer.commit")
        client(session, type="response.create")
        events = drain(session)
        if not any(e["type"] == "response.output_audio.delta" for e in events):
            break
    assert session.assistant_audio_s >= 20.0
    assert events[-1]["type"] == "response.done" and events[-1]["response"]["status"] == "completed"
    append(session, SPEECH)
    assert session.outputs_due(1e9) == [Abort()]


def test_appends_read_without_a_json_parse_count_as_the_parsed_ones_do() -> None:
    plain, spelled_out = manual(), manual()
    plain.receive('{"type":"input_audio_buffer.append","audio":"' + base64.b64encode(SPEECH).decode() + '"}', 0.0)
    client(spelled_out, type="input_audio_buffer.append", audio=base64.b64encode(SPEECH).decode(), event_id="e1")
    assert plain.input.buffered_samples == spelled_out.input.buffered_samples == len(SPEECH) // 2
    escaped = manual()  # an escape in the audio text: only a JSON parse reads it right ("\\u0041" is "A")
    escaped.receive('{"type":"input_audio_buffer.append","audio":"AAA\\u0041"}', 0.0)
    assert escaped.input.buffered_samples == 1


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 960, 961, 962])
def test_manual_appends_count_the_samples_without_decoding_as_decoding_does(size: int) -> None:
    audio = base64.b64encode(bytes(size)).decode()
    assert decoded_length(audio) == size
    profile = DEFAULT_PROFILES["gpt-realtime"]
    manual, listening = MockSession(profile, 1.0, seed=1, now=0.0), MockSession(profile, 1.0, seed=1, now=0.0)
    manual.input.append(audio, 0.0, vad=False)
    listening.input.append(audio, 0.0, vad=True)
    assert manual.input.buffered_samples == listening.input.buffered_samples == size // 2
