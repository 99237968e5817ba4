"""What a user needs to open a connection to its provider, per protocol: the handshake and the adapter that speaks
there; and, for a conversation that goes on over a new connection, the next one: resumed with Gemini's handle after a
goAway, or a fresh session after a rotation or the provider's cap."""

from __future__ import annotations

from s2s_users.core.config import RunSettings
from s2s_users.core.engine.rotation import Handover
from s2s_users.core.events import ProtocolCounts
from s2s_users.core.protocols import azure, gemini_live, openai_realtime
from s2s_users.core.protocols.base import RealtimeProtocol
from s2s_users.core.protocols.openai_realtime import ConnectRequest, OpenAIRealtimeProtocol


def connection_for(
    settings: RunSettings, model: str, turn_mode: str, url: str, counts: ProtocolCounts | None = None
) -> tuple[ConnectRequest, RealtimeProtocol]:
    """The handshake to ``url`` and a fresh adapter, for a new session of ``model`` in ``turn_mode`` (``counts``:
    the conversation's, when it moves to a fresh session)."""
    match settings.protocol:
        case "gemini":
            adapter = gemini_live.GeminiLiveProtocol(settings.gemini_settings(model, turn_mode), counts=counts)
            return gemini_live.connect_request(url, settings.api_key), adapter
        case "azure":
            request = azure.connect_request(url, model, settings.api_key, settings.azure_ad_token)
            return request, OpenAIRealtimeProtocol(settings.realtime_settings(turn_mode), counts)
    request = openai_realtime.connect_request(url, model, settings.api_key)
    return request, OpenAIRealtimeProtocol(settings.realtime_settings(turn_mode), counts)


def next_connection(
    settings: RunSettings, model: str, turn_mode: str, url: str, previous: RealtimeProtocol, why: Handover
) -> tuple[ConnectRequest, RealtimeProtocol]:
    """The next connection of a conversation that let ``previous``'s go: a resumption of the same provider
    session after Gemini's goAway, or a fresh session (a rotation, or a reconnect at the provider's cap)."""
    if why is not Handover.RESUME:
        return connection_for(settings, model, turn_mode, url, previous.counts)
    assert isinstance(previous, gemini_live.GeminiLiveProtocol), "only Gemini sessions resume"
    adapter = gemini_live.GeminiLiveProtocol(
        settings.gemini_settings(model, turn_mode), counts=previous.counts, resumption_handle=previous.resumption_handle
    )
    return gemini_live.connect_request(url, settings.api_key), adapter
