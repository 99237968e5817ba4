"""Azure OpenAI realtime and Voice Live: the handshake (URLs, api-version, key or Entra token), the shared OpenAI
adapter on a Voice Live transcript (tests/data/azure/: its extension events, and the generic server_error Azure
has sent at its ~30-minute cap), and that error read by the engine as the expected end once the cap is near."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2s_users.core import events as ev
from s2s_users.core.engine.conversation import Conversation, EngineSettings
from s2s_users.core.engine.script import build_script
from s2s_users.core.exceptions import ConfigError
from s2s_users.core.metrics.records import SessionLabels
from s2s_users.core.protocols import azure, providers
from s2s_users.core.protocols.openai_realtime import OpenAIRealtimeProtocol, RealtimeSettings

TRANSCRIPT = Path(__file__).resolve().parents[2] / "data" / "azure" / "voice_live_turn.jsonl"
LABELS = SessionLabels("run1", "gpt-realtime", "azure", "marin", "manual", "default", "local")


def test_azure_openai_takes_the_deployment_as_model_and_the_key_as_api_key() -> None:
    request = azure.connect_request("wss://res.openai.azure.com/openai/v1/realtime", "my-deploy", api_key="az-key")
    assert request.url == "wss://res.openai.azure.com/openai/v1/realtime?model=my-deploy"
    assert request.headers == {"api-key": "az-key"} and "az-key" not in repr(request)


def test_voice_live_gets_an_api_version_when_the_url_has_none_and_keeps_its_own() -> None:
    base = "wss://res.services.ai.azure.com/voice-live/realtime"
    assert azure.connect_request(base, "gpt-realtime", api_key="k").url == (
        f"{base}?api-version={azure.VOICE_LIVE_API_VERSION}&model=gpt-realtime"
    )
    own = azure.connect_request(f"{base}?api-version=2025-10-01&model=old", "gpt-realtime", api_key="k")
    assert own.url == f"{base}?api-version=2025-10-01&model=gpt-realtime"


def test_an_entra_token_is_sent_as_bearer_instead_of_the_key() -> None:
    request = azure.connect_request("wss://r.openai.azure.com/openai/v1/realtime", "d", api_key="k", ad_token="tok")
    assert request.headers == {"Authorization": "Bearer tok"}


@pytest.mark.parametrize(("deployment", "key", "says"), [("", "k", "deployment"), ("d", "", "AZURE_OPENAI_API_KEY")])
def test_a_missing_deployment_or_credential_is_a_one_line_error(deployment: str, key: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        azure.connect_request("wss://r.openai.azure.com/openai/v1/realtime", deployment, api_key=key)


@pytest.mark.parametrize(
    ("url", "protocol"),
    [
        (None, "openai"),
        ("wss://api.openai.com/v1/realtime", "openai"),
        ("wss://r.openai.azure.com/openai/v1/realtime", "azure"),
        ("wss://r.services.ai.azure.com/voice-live/realtime?api-version=2026-04-10", "azure"),
        ("wss://r.cognitiveservices.azure.com/voice-live/realtime", "azure"),
        ("ws://127.0.0.1:9/openai/v1/realtime", "azure"),
        ("wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService."
         "BidiGenerateContent", "gemini"),
        ("ws://127.0.0.1:9/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent", "gemini"),
    ],
)  # fmt: skip
def test_the_protocol_is_read_from_the_url(url: str | None, protocol: str) -> None:
    assert providers.detect(url) == protocol
    assert providers.resolve("auto", url) == protocol and providers.resolve("gemini", url) == "gemini"


def _replay() -> list[ev.Event]:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    events: list[ev.Event] = []
    for line in TRANSCRIPT.read_text().splitlines():
        adapter.receive_message(line)
        events += adapter.events_received()
    assert adapter.unknown_events == {"response.audio_timestamp.delta": 1, "response.animation_viseme.delta": 1}
    return events


def test_a_voice_live_turn_reads_as_an_openai_one_with_its_extensions_counted() -> None:
    events = _replay()
    assert events[0] == ev.SessionCreated("sess_AZ1")
    assert sum(len(e.pcm) for e in events if isinstance(e, ev.AudioDelta)) == 4800
    done = next(e for e in events if isinstance(e, ev.ResponseDone))
    assert done.status == "completed" and done.usage is not None and done.usage.output_audio_tokens == 25
    assert isinstance(events[-1], ev.ServerError) and events[-1].code is None


@pytest.mark.parametrize(("at_s", "end"), [(1790.0, "session.expired"), (600.0, "server.error_event")])
def test_azures_generic_error_at_its_cap_is_the_expected_end_and_earlier_a_failure(at_s: float, end: str) -> None:
    script = build_script([("p1", bytes(4800))], 24_000, 20)
    settings = EngineSettings(turns=60, session_cap_s=azure.SESSION_CAP_S, turn_timeout_s=3600.0)
    conversation = Conversation(script, settings, LABELS, now=0.0)
    events = _replay()
    for event in events[:2]:  # session.created, session.updated: the first prompt starts
        conversation.handle(event, 0.0)
    conversation.on_timer(0.2)  # the prompt is out
    for event in events[2:-1]:  # its answer
        conversation.handle(event, 0.3)
    conversation.on_timer(1.3)  # thinking is over: the next prompt starts
    conversation.on_timer(at_s - 1.0)  # and is out: waiting for an answer
    conversation.handle(events[-1], at_s)  # instead of one, the generic server_error
    record = conversation.session_record()
    assert record.turns[-1].outcome == end and record.turns_completed == 1
    assert record.outcome == ("expired" if end == "session.expired" else "failed")
