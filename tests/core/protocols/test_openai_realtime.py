"""The OpenAI Realtime adapter on recorded event transcripts (GA names, beta names, errors, unknown events)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from s2s_users.core import events as ev
from s2s_users.core.exceptions import ConfigError
from s2s_users.core.protocols.openai_realtime import OpenAIRealtimeProtocol, RealtimeSettings, connect_request

DATA = Path(__file__).resolve().parents[2] / "data"


def replay(name: str, adapter: OpenAIRealtimeProtocol | None = None) -> tuple[OpenAIRealtimeProtocol, list[ev.Event]]:
    adapter = adapter or OpenAIRealtimeProtocol(RealtimeSettings())
    events: list[ev.Event] = []
    for line in (DATA / f"{name}.jsonl").read_text().splitlines():
        adapter.receive_message(line)
        events.extend(adapter.events_received())
    return adapter, events


def test_ga_turn_yields_session_audio_transcript_and_done_with_usage() -> None:
    adapter, events = replay("openai_ga_turn")
    assert events[0] == ev.SessionCreated("sess_GA1")
    assert ev.SessionUpdated() in events
    audio = [e for e in events if isinstance(e, ev.AudioDelta)]
    assert [len(a.pcm) for a in audio] == [4800, 4800]
    assert "".join(e.text for e in events if isinstance(e, ev.TranscriptDelta)) == "Hello there!"
    done = events[-1]
    assert isinstance(done, ev.ResponseDone)
    assert done.status == "completed" and done.response_id == "resp_1"
    assert done.usage == ev.Usage(
        input_tokens=150,
        output_tokens=100,
        input_audio_tokens=50,
        input_text_tokens=100,
        cached_tokens=64,
        output_audio_tokens=80,
        output_text_tokens=20,
    )
    assert adapter.legacy_events == 0 and adapter.unknown_events == {}


def test_beta_names_are_accepted_and_counted_as_legacy() -> None:
    adapter, events = replay("openai_beta_names_turn")
    assert sum(isinstance(e, ev.AudioDelta) for e in events) == 1
    assert any(isinstance(e, ev.TranscriptDelta) and e.text == "Hi" for e in events)
    assert isinstance(events[-1], ev.ResponseDone)
    # conversation.item.created, response.audio_transcript.delta/done, response.audio.delta/done
    assert adapter.legacy_events == 5
    assert adapter.unknown_events == {}


def test_errors_failed_and_incomplete_responses_and_truncations_are_parsed() -> None:
    adapter, events = replay("openai_errors")
    error = events[1]
    assert error == ev.ServerError(
        code="missing_required_parameter",
        type="invalid_request_error",
        message="Missing required parameter: 'session.type'.",
        caused_by="evt_s2s_1",
    )
    failed, incomplete = events[2], events[3]
    assert isinstance(failed, ev.ResponseDone) and failed.status == "failed"
    assert (failed.error_type, failed.error_code) == ("server_error", "internal_error")
    assert failed.error_message == "The server had an error while processing your request."
    assert isinstance(incomplete, ev.ResponseDone) and incomplete.reason == "max_output_tokens"
    assert events[4] == ev.ContextTruncated("conversation.item.deleted")
    assert events[5] == ev.ContextTruncated("conversation.item.truncated", audio_end_ms=1500)  # where it cut


def test_unknown_events_are_counted_and_never_fatal() -> None:
    adapter, events = replay("openai_errors")
    assert events[-2:] == [ev.UnknownEvent("totally.unknown.event")] * 2
    assert adapter.unknown_events == {"totally.unknown.event": 2}


def test_malformed_messages_become_malformed_events() -> None:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    adapter.receive_message("{not json")
    adapter.receive_message('{"no_type": 1}')
    adapter.receive_message("[1, 2]")
    assert all(isinstance(e, ev.MalformedMessage) for e in adapter.events_received())


def test_session_update_is_ga_shaped_and_manual_mode_disables_vad() -> None:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings(voice="cedar", instructions="Be brief.", turn_mode="manual"))
    adapter.configure()
    (message,) = [json.loads(m) for m in adapter.messages_to_send()]
    assert message["type"] == "session.update"
    assert message["event_id"] == adapter.config_event_id
    session = message["session"]
    assert session["type"] == "realtime"
    assert session["instructions"] == "Be brief."
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "cedar"}


def test_server_vad_mode_asks_for_server_vad() -> None:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings(turn_mode="server_vad"))
    adapter.configure()
    session = json.loads(adapter.messages_to_send()[0])["session"]
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"


def test_manual_turn_messages_are_append_commit_create_in_order() -> None:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    adapter.append_audio("AAAA")
    adapter.commit()
    adapter.create_response()
    messages = [json.loads(m) for m in adapter.messages_to_send()]
    assert [m["type"] for m in messages] == [
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "response.create",
    ]
    assert messages[0]["audio"] == "AAAA"
    assert adapter.messages_to_send() == []


def test_connect_request_uses_bearer_for_openai_and_api_key_for_azure() -> None:
    openai = connect_request("wss://api.openai.com/v1/realtime", "gpt-realtime", "sk-test")
    assert openai.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert openai.headers == {"Authorization": "Bearer sk-test"}
    assert "OpenAI-Beta" not in openai.headers
    azure = connect_request("wss://res.openai.azure.com/openai/v1/realtime", "my-deploy", "az-key")
    assert azure.url == "wss://res.openai.azure.com/openai/v1/realtime?model=my-deploy"
    assert azure.headers == {"api-key": "az-key"}


def test_connect_request_never_shows_the_key_in_its_repr() -> None:
    assert "sk-secret" not in repr(connect_request("ws://127.0.0.1:1/v1/realtime", "m", "sk-secret"))


@pytest.mark.parametrize("url", ["https://api.openai.com/v1/realtime", "api.openai.com", "ws://"])
def test_connect_request_rejects_non_websocket_urls_with_one_line(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        connect_request(url, "gpt-realtime", "k")
    assert "\n" not in str(info.value) and "wss://" in str(info.value)


def test_each_chunks_append_text_is_built_once_per_process_and_is_the_json_it_always_was() -> None:
    chunk = base64.b64encode(bytes(960)).decode()
    first, second = OpenAIRealtimeProtocol(RealtimeSettings()), OpenAIRealtimeProtocol(RealtimeSettings())
    first.append_audio(chunk)
    second.append_audio(chunk)
    (one,), (other,) = first.messages_to_send(), second.messages_to_send()
    assert one is other  # shared, not rebuilt per session
    assert json.loads(one) == {"type": "input_audio_buffer.append", "audio": chunk}
