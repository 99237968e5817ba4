"""Gemini Live (BidiGenerateContent) wire facts shared by the client adapter and the mock server.

shared/reference/protocols.md §4: the first client frame is ``setup``; audio goes in as PCM16 mono 16 kHz
(``realtimeInput.audio``) and comes out as PCM16 mono 24 kHz (``serverContent.modelTurn.parts[].inlineData``),
base64 in JSON. The server speaks camelCase proto-JSON, possibly several top-level keys in one frame; clients
may send camelCase or snake_case (the official SDK mixes both).
"""

from __future__ import annotations

import re

INPUT_RATE = 16_000
OUTPUT_RATE = 24_000
INPUT_MIME = f"audio/pcm;rate={INPUT_RATE}"
OUTPUT_MIME = f"audio/pcm;rate={OUTPUT_RATE}"

HOST = "generativelanguage.googleapis.com"
API_VERSIONS = ("v1", "v1beta", "v1alpha")
METHOD = "BidiGenerateContent"


def path(version: str = "v1beta") -> str:
    return f"/ws/google.ai.generativelanguage.{version}.GenerativeService.{METHOD}"


PATHS = tuple(path(version) for version in API_VERSIONS)
DEFAULT_URL = f"wss://{HOST}{path()}"

#: Every top-level key a server message may carry (the SDK refuses a frame with none of them).
SERVER_KEYS = (
    "setupComplete",
    "serverContent",
    "toolCall",
    "toolCallCancellation",
    "usageMetadata",
    "goAway",
    "sessionResumptionUpdate",
    "voiceActivityDetectionSignal",
    "voiceActivity",
)

#: ``turnCompleteReason`` values that end a turn without an answer but say nothing went wrong on the server's
#: side: with no audio they are the silent ``response.zero_audio`` (seen in the wild as runs of empty
#: RESPONSE_REJECTED turns). Any other reason is the server saying it failed the turn.
QUIET_TURN_END_REASONS = frozenset({"TURN_COMPLETE_REASON_UNSPECIFIED", "RESPONSE_REJECTED", "NEED_MORE_INPUT"})

#: How real servers have closed at the end of a connection's life, after their goAway (sokuji#179).
CAP_CLOSE = (1011, "Deadline expired before operation could complete.")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def parse_duration(value: object) -> float | None:
    """A proto-JSON Duration (``"50s"``, ``"2.500s"``) in seconds; None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    return float(match.group(1)) if match else None


def format_duration(seconds: float) -> str:
    """Seconds as a proto-JSON Duration: ``"50s"``, ``"2.5s"``."""
    return f"{round(seconds, 3):g}s"


def camel(name: str) -> str:
    """``realtime_input`` → ``realtimeInput`` (proto-JSON accepts either spelling from clients)."""
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)
