"""Azure's realtime endpoints, which speak the OpenAI Realtime GA protocol (``openai_realtime.py``) with Azure's
URLs and auth (shared/reference/protocols.md §3, providers-2026.md §3).

- Azure OpenAI realtime (GA v1): ``wss://RESOURCE.openai.azure.com/openai/v1/realtime?model=DEPLOYMENT``.
- Azure AI Voice Live: ``wss://RESOURCE.services.ai.azure.com/voice-live/realtime?api-version=…&model=MODEL``
  (older resources: ``RESOURCE.cognitiveservices.azure.com``).
- Auth: the resource key in an ``api-key`` header, or a Microsoft Entra ID token as ``Authorization: Bearer``.
- Sessions end after about 30 minutes (reported as close 1001 ``session_expired``, or a generic ``server_error``):
  an expected end, not a failure.
"""

from __future__ import annotations

import urllib.parse

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.protocols.openai_realtime import ConnectRequest, check_url

HOST_SUFFIXES = (".openai.azure.com", ".services.ai.azure.com", ".cognitiveservices.azure.com")
PATH_PREFIXES = ("/openai/", "/voice-live/")
VOICE_LIVE_PATH = "/voice-live/realtime"
#: Voice Live needs an api-version; this one is used when the URL has none (the newest documented).
VOICE_LIVE_API_VERSION = "2026-04-10"
SESSION_CAP_S = 30 * 60.0


def is_azure(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return (parts.hostname or "").endswith(HOST_SUFFIXES) or parts.path.startswith(PATH_PREFIXES)


def connect_request(base_url: str, deployment: str, api_key: str = "", ad_token: str = "") -> ConnectRequest:
    """The handshake: ``?model=DEPLOYMENT`` (and Voice Live's ``api-version``), the key or the Entra token.

    An Entra token wins over a key: it is what was asked for when both are set.
    """
    check_url(base_url)
    if not deployment:
        raise ConfigError("no deployment given: pass --s2s-model with the Azure deployment (or Voice Live model)")
    if not (api_key or ad_token):
        raise ConfigError("no Azure credential: set AZURE_OPENAI_API_KEY, or an Entra token in AZURE_OPENAI_AD_TOKEN")
    parts = urllib.parse.urlsplit(base_url)
    query = [(key, value) for key, value in urllib.parse.parse_qsl(parts.query) if key != "model"]
    if parts.path.rstrip("/") == VOICE_LIVE_PATH and not any(key == "api-version" for key, _ in query):
        query.append(("api-version", VOICE_LIVE_API_VERSION))
    query.append(("model", deployment))
    url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    headers = {"Authorization": f"Bearer {ad_token}"} if ad_token else {"api-key": api_key}
    return ConnectRequest(url=url, headers=headers)
