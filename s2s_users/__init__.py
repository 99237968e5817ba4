"""s2s_users: distributed load and endurance tester for realtime speech-to-speech APIs."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
