"""What a user needs to open a connection to its provider, per protocol: the handshake and the adapter that speaks
there; and, for a conversation that goes on after a goAway, the next connection with the resumption handle."""

from __future__ import annotations

from s2s_users.core.config import RunSettings
from s2s_users.core.protocols import azure, gemini_live, openai_realtime
from s2s_users.core.protocols.base import RealtimeProtocol
from s2s_users.core.protocols.openai_realtime import ConnectRequest, OpenAIRealtimeProtocol


def connection_for(
    settings: RunSettings, model: str, turn_mode: str, url: str
) -> tuple[ConnectRequest, RealtimeProtocol]:
    """The handshake to ``url`` and a fresh adapter, for a new session of ``model`` in ``turn_mode``."""
    match settings.protocol:
        case "gemini":
            adapter = gemini_live.GeminiLiveProtocol(settings.gemini_settings(model, turn_mode))
            return gemini_live.connect_request(url, settings.api_key), adapter
        case "azure":
            request = azure.connect_request(url, model, settings.api_key, settings.azure_ad_token)
            return request, OpenAIRealtimeProtocol(settings.realtime_settings(turn_mode))
    request = openai_realtime.connect_request(url, model, settings.api_key)
    return request, OpenAIRealtimeProtocol(settings.realtime_settings(turn_mode))


def resumed_connection(
    settings: RunSettings, model: str, turn_mode: str, url: str, previous: RealtimeProtocol
) -> tuple[ConnectRequest, RealtimeProtocol]:
    """The next connection of a conversation whose server announced the end of ``previous``'s (Gemini only)."""
    assert isinstance(previous, gemini_live.GeminiLiveProtocol), "only Gemini conversations hand over"
    adapter = gemini_live.GeminiLiveProtocol(
        settings.gemini_settings(model, turn_mode), counts=previous.counts, resumption_handle=previous.resumption_handle
    )
    return gemini_live.connect_request(url, settings.api_key), adapter
