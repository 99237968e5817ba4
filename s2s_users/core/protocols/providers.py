"""Which protocol a run speaks (``--s2s-protocol``, or what the URL says), and each one's facts that the rest of
the tool needs: its adapter's rates, how to open a connection, its default models and voice, its session cap."""

from __future__ import annotations

import urllib.parse

from s2s_users.core.protocols import azure, gemini_wire

PROTOCOLS = ("auto", "openai", "azure", "gemini")
DEFAULT_VOICES = {"openai": "marin", "azure": "marin", "gemini": "Puck"}
#: The embedded mock's models for each protocol when --s2s-model is left at its default.
DEFAULT_MOCK_MODELS = {"gemini": ("gemini-live-2.5-flash", "gemini-3.1-flash-live")}
#: Where the embedded mock serves each protocol.
MOCK_PATHS = {"openai": "/v1/realtime", "azure": "/openai/v1/realtime", "gemini": gemini_wire.path()}
#: Session caps known in advance (Gemini announces its own with goAway; OpenAI's says so in its close).
SESSION_CAPS_S = {"azure": azure.SESSION_CAP_S}


def detect(url: str | None) -> str:
    """The protocol a URL speaks: Gemini's host or method, Azure's hosts or paths, else OpenAI."""
    if url is None:
        return "openai"
    parts = urllib.parse.urlsplit(url)
    if parts.hostname == gemini_wire.HOST or gemini_wire.METHOD in parts.path:
        return "gemini"
    return "azure" if azure.is_azure(url) else "openai"


def resolve(protocol: str, url: str | None) -> str:
    """``--s2s-protocol`` as given, or detected from the URL for ``auto``."""
    return detect(url) if protocol == "auto" else protocol
