"""The embedded mock realtime server (OpenAI Realtime GA protocol), with model profiles and failures."""

from __future__ import annotations

from s2s_users.mockserver.profiles import DEFAULT_PROFILES, ModelProfile
from s2s_users.mockserver.server import MockServerProcess

DEFAULT_MOCK_API_KEY = "mock-key"

__all__ = ["DEFAULT_MOCK_API_KEY", "DEFAULT_PROFILES", "MockServerProcess", "ModelProfile"]
