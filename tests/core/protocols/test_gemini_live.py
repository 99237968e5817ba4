"""The Gemini Live adapter on message transcripts in the wire's shapes (tests/data/gemini/), and what it sends.

``turn.jsonl``: one healthy turn (setupComplete, handles, audio in two frames, transcription, generationComplete,
turnComplete with usage in the same frame). ``failures.jsonl``: a healthy turn, an empty RESPONSE_REJECTED turn, an
interrupted one, a refused one (PROHIBITED_INPUT_CONTENT), audio cut by a premature turnComplete while the prompt
token count fell, a tool call, an unknown field (twice), and goAway sharing a frame with it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from s2s_users.core import events as ev
from s2s_users.core.intents import AppendAudio, Commit, Configure, CreateResponse
from s2s_users.core.protocols.gemini_live import GeminiLiveProtocol, GeminiSettings, connect_request
from s2s_users.core.protocols.gemini_wire import format_duration, parse_duration

DATA = Path(__file__).resolve().parents[2] / "data" / "gemini"


def replay(name: str, adapter: GeminiLiveProtocol | None = None) -> tuple[GeminiLiveProtocol, list[ev.Event]]:
    adapter = adapter or GeminiLiveProtocol(GeminiSettings(model="gemini-live"))
    events: list[ev.Event] = []
    for line in (DATA / f"{name}.jsonl").read_text().splitlines():
        adapter.receive_message(line.encode())  # the real server sends JSON in binary frames
        events.extend(adapter.events_received())
    return adapter, events


def dones(events: list[ev.Event]) -> list[ev.ResponseDone]:
    return [e for e in events if isinstance(e, ev.ResponseDone)]


def test_a_turn_yields_the_session_audio_transcript_and_a_completed_done_with_usage() -> None:
    adapter, events = replay("turn")
    assert events[:2] == [ev.SessionCreated("gsess_1"), ev.SessionUpdated()]
    assert [len(e.pcm) for e in events if isinstance(e, ev.AudioDelta)] == [4800, 4800]
    assert "".join(e.text for e in events if isinstance(e, ev.TranscriptDelta)) == "Hello there!"
    (done,) = dones(events)
    assert done.status == "completed" and done.reason is None and done.response_id == "turn_1"
    assert done.usage == ev.Usage(
        input_tokens=150,
        output_tokens=100,
        input_audio_tokens=140,
        input_text_tokens=10,
        output_audio_tokens=100,
    )
    assert adapter.resumption_handle == "handle_2"
    assert adapter.counts.unknown_events == {}


def test_turn_ends_map_to_the_statuses_the_taxonomy_reads() -> None:
    adapter, events = replay("failures")
    healthy, rejected, interrupted, refused, cut = dones(events)
    assert healthy.status == "completed"
    # No audio and a reason that blames no one: completed, so the engine calls it response.zero_audio.
    assert (rejected.status, rejected.reason) == ("completed", "RESPONSE_REJECTED")
    assert (interrupted.status, interrupted.reason) == ("cancelled", "interrupted")
    assert (refused.status, refused.error_code) == ("failed", "PROHIBITED_INPUT_CONTENT")
    assert (cut.status, cut.reason) == ("incomplete", "turnComplete before generationComplete")
    assert cut.usage is not None and cut.usage.input_tokens == 120


def test_a_falling_prompt_token_count_is_a_context_truncation_before_its_turn_ends() -> None:
    _, events = replay("failures")
    index = events.index(ev.ContextTruncated("usageMetadata.promptTokenCount fell"))
    assert isinstance(events[index + 1], ev.ResponseDone) and events[index + 1].status == "incomplete"
    assert sum(isinstance(e, ev.ContextTruncated) for e in events) == 1


def test_go_away_unknown_fields_and_tool_calls() -> None:
    adapter, events = replay("failures")
    assert events[-2:] == [ev.GoingAway(50.0, can_resume=False), ev.UnknownEvent("someFutureField")]
    assert adapter.counts.unknown_events == {"someFutureField": 2}
    assert ev.Ignored("toolCall") in events


def test_a_premature_turn_complete_is_only_incomplete_once_the_server_has_shown_generation_complete() -> None:
    adapter = GeminiLiveProtocol(GeminiSettings(model="m"))
    audio = base64.b64encode(b"\x10\x00" * 100).decode()
    adapter.receive_message(json.dumps({"serverContent": {"modelTurn": {"parts": [{"inlineData": {
        "mimeType": "audio/pcm;rate=24000", "data": audio}}]}}}))  # fmt: skip
    adapter.receive_message('{"serverContent":{"turnComplete":true}}')
    (done,) = dones(adapter.events_received())
    assert done.status == "completed"  # some servers never send generationComplete: not a failure


def test_go_away_says_whether_the_conversation_can_resume() -> None:
    adapter = GeminiLiveProtocol(GeminiSettings(model="m", resume=True))
    adapter.receive_message('{"goAway":{"timeLeft":"10s"}}')
    adapter.receive_message('{"sessionResumptionUpdate":{"newHandle":"h9","resumable":false}}')
    adapter.receive_message(
        '{"sessionResumptionUpdate":{"newHandle":"h1","resumable":true},"goAway":{"timeLeft":"9s"}}'
    )
    adapter.receive_message('{"sessionResumptionUpdate":{"newHandle":"h2","resumable":false}}')
    going = [e for e in adapter.events_received() if isinstance(e, ev.GoingAway)]
    assert going == [ev.GoingAway(10.0, can_resume=False), ev.GoingAway(9.0, can_resume=True)]
    assert adapter.resumption_handle == "h1"  # a handle given while not resumable is not one to resume with


@pytest.mark.parametrize(
    "data", ["{not json", "[1, 2]", "{}", '{"serverContent": 3}', b"\xff\xfe", '{"serverContent":{"modelTurn":'
     '{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"A"}}]}}}'],
)  # fmt: skip
def test_malformed_frames_become_malformed_events(data: str | bytes) -> None:
    adapter = GeminiLiveProtocol(GeminiSettings(model="m"))
    adapter.receive_message(data)
    assert any(isinstance(e, ev.MalformedMessage) for e in adapter.events_received())


def test_setup_is_the_first_frame_and_manual_turns_turn_automatic_activity_detection_off() -> None:
    settings = GeminiSettings(model="gemini-live", voice="Kore", instructions="Be brief.")
    adapter = GeminiLiveProtocol(settings)
    (setup,) = [json.loads(m) for m in adapter.messages_to_send()]
    assert list(setup) == ["setup"]
    body = setup["setup"]
    assert body["model"] == "models/gemini-live"
    assert body["generationConfig"]["responseModalities"] == ["AUDIO"]
    assert body["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Kore"
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["realtimeInputConfig"] == {"automaticActivityDetection": {"disabled": True}}
    assert "sessionResumption" not in body


def test_manual_turn_messages_wrap_the_audio_in_one_activity_and_ask_for_nothing_else() -> None:
    adapter = GeminiLiveProtocol(GeminiSettings(model="m"))
    adapter.messages_to_send()
    for intent in (Configure(), AppendAudio("AAAA"), AppendAudio("BBBB"), Commit(), CreateResponse(), AppendAudio("C")):
        adapter.apply(intent)
    messages = [json.loads(m) for m in adapter.messages_to_send()]
    assert messages == [
        {"realtimeInput": {"activityStart": {}}},
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "AAAA"}}},
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "BBBB"}}},
        {"realtimeInput": {"activityEnd": {}}},
        {"realtimeInput": {"activityStart": {}}},
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "C"}}},
    ]


def test_server_vad_turns_send_audio_only_and_resumption_sends_its_handle() -> None:
    adapter = GeminiLiveProtocol(GeminiSettings(model="m", turn_mode="server_vad", resume=True), resumption_handle="h7")
    setup = json.loads(adapter.messages_to_send()[0])["setup"]
    assert "realtimeInputConfig" not in setup and setup["sessionResumption"] == {"handle": "h7"}
    adapter.apply(AppendAudio("AAAA"))
    adapter.apply(Commit())
    assert [json.loads(m) for m in adapter.messages_to_send()] == [
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "AAAA"}}}
    ]
    fresh = GeminiLiveProtocol(GeminiSettings(model="m", resume=True))
    assert json.loads(fresh.messages_to_send()[0])["setup"]["sessionResumption"] == {}


def test_the_key_goes_in_a_header_unless_the_url_already_carries_it() -> None:
    url = "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    request = connect_request(url, "g-key")
    assert request.url == url and request.headers == {"x-goog-api-key": "g-key"}
    assert "g-key" not in repr(request)
    assert connect_request(url + "?key=in-url", "g-key").headers == {}


def test_durations_read_and_write_as_proto_json() -> None:
    assert parse_duration("50s") == 50.0 and parse_duration("2.500s") == 2.5
    assert parse_duration("soon") is None and parse_duration(50) is None
    assert format_duration(2.5) == "2.5s" and format_duration(60) == "60s"
