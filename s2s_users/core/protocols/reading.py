"""Reading what a server sends, for every adapter: tolerant field access, audio decoding, unknown-type counts.

A field of the wrong type reads as absent, so no shape a server sends can raise here. Only audio is stricter
(``audio_delta``): it is what we measure.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from s2s_users.core import events as ev

# A server can invent message types without end: the first ones are counted by name, the rest together, and names
# are cut, so the counter (which goes into every session record) stays small.
MAX_UNKNOWN_TYPES = 100
MAX_TYPE_NAME = 120
OTHER_UNKNOWN = "(other unknown types)"


# ``json.loads``' own C scanner, called directly: a compact object is read without ``loads``' three Python frames
# and two whitespace regexes (about half its cost on the short messages a server sends by the thousand).
_SCAN_ONCE: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def json_loads(text: str) -> Any:
    """``json.loads(text)``: the same value, or the same error."""
    if text.startswith("{"):
        try:
            value, end = _SCAN_ONCE(text, 0)
        except Exception:  # noqa: BLE001 - json.loads below raises what it should
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)


def load_json(data: str | bytes) -> Any:
    """A server message's JSON (text or binary frame), or the ``MalformedMessage`` it is."""
    try:
        return json_loads(data) if isinstance(data, str) else json.loads(data)
    except ValueError as exc:  # also UnicodeDecodeError: bytes that are not UTF-8
        return ev.MalformedMessage(f"not JSON: {exc}")
    except RecursionError:  # a few kilobytes of "[[[[..." exhaust the parser's stack
        return ev.MalformedMessage("JSON nested too deeply")


def field(container: Any, key: str) -> Any:
    """``container[key]`` when ``container`` is a JSON object, else None."""
    return container.get(key) if isinstance(container, dict) else None


def text(value: Any) -> str | None:
    """A JSON string as records can store it, else None.

    ``json.loads`` turns an escaped lone surrogate (``"\\ud800"``) into a str that cannot be encoded as UTF-8;
    such text would reach records and break the sinks that write them, so it is replaced by ``?`` here.
    """
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def count(value: Any) -> int:
    """A token count: a non-negative JSON integer below 2**53, else 0.

    Python reads integers of any size, but a count of 10**400 cannot even become a float for the cost estimate;
    no real count comes near 2**53 (the exact-integer range of JSON numbers).
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53:
        return value
    return 0


def audio_delta(data: Any, response_id: str = "") -> ev.AudioDelta | ev.MalformedMessage:
    """Decode base64 audio; anything that is not base64 text is a malformed message.

    Not an empty delta: audio is what the tool measures, and counting an undecodable delta as zero bytes would
    report a broken server as the silent ``response.zero_audio``. As ``MalformedMessage`` the engine ends the
    session as ``protocol.unexpected``, which is what happened.
    """
    if not isinstance(data, str):
        return ev.MalformedMessage(f"audio delta is {type(data).__name__}, not base64 text")
    try:
        return ev.AudioDelta(base64.b64decode(data), response_id)
    except ValueError as exc:  # binascii.Error (bad length or padding), or text that is not ASCII
        return ev.MalformedMessage(f"audio delta is not base64: {type(exc).__name__}")


def count_unknown(counts: ev.ProtocolCounts, kind: str) -> ev.UnknownEvent:
    """Count a message type the adapter does not know (bounded, see above) and return its event."""
    name = (text(kind) or "")[:MAX_TYPE_NAME]
    unknown = counts.unknown_events
    key = name if name in unknown or len(unknown) < MAX_UNKNOWN_TYPES else OTHER_UNKNOWN
    unknown[key] = unknown.get(key, 0) + 1
    return ev.UnknownEvent(name)
