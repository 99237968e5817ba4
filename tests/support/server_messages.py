"""Hypothesis strategies for server messages: JSON of any shape, and mutations of the recorded transcripts.

Shared by the fuzz tests of the adapter, the engine and the transport. The recordings are ``tests/data/*.jsonl``;
a mutation drops keys, changes value types (str, int, null, list, dict and the odd values between), puts in huge
strings, breaks the base64 of audio deltas, or renames the type (legacy, unknown, empty).
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from s2s_users.core.protocols.openai_realtime import LEGACY_NAMES, OpenAIRealtimeProtocol, RealtimeSettings

DATA = Path(__file__).parent.parent / "data"
RECORDED: list[dict[str, Any]] = [
    json.loads(line) for path in sorted(DATA.glob("*.jsonl")) for line in path.read_text().splitlines() if line
]
AUDIO_DELTA_TYPES = ("response.output_audio.delta", "response.audio.delta")
# Types the adapter reads fields from (the rest it only names): where wrong shapes could hurt.
PARSED_TYPES = (
    *AUDIO_DELTA_TYPES,
    "response.output_audio_transcript.delta",
    "response.output_text.delta",
    "response.created",
    "response.done",
    "session.created",
    "session.updated",
    "error",
    "conversation.item.deleted",
    "conversation.item.truncated",
)


def _known(kind: str) -> bool:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    adapter.receive_message(json.dumps({"type": kind}))
    return adapter.unknown_events == {}


# The recordings also hold a deliberately unknown type: ask the adapter which names it knows.
KNOWN_TYPES = sorted(
    kind
    for kind in {*PARSED_TYPES, *LEGACY_NAMES, *LEGACY_NAMES.values(), *(m["type"] for m in RECORDED)}
    if _known(kind)
)
GA_TO_LEGACY = {ga: legacy for legacy, ga in LEGACY_NAMES.items()}

# --- strategies ---------------------------------------------------------------------------------------------

# Lone surrogates are valid in a Python str (json.loads makes them from "\ud800") but cannot be encoded to UTF-8.
lone_surrogates = st.characters(categories=["Cs"])
huge_strings = st.sampled_from(["A" * 1_000_000, "é" * 200_000, "\x00" * 100_000])
odd_ints = st.sampled_from([-1, 2**63, 10**400, -(10**400)])  # 10**400 cannot even become a float
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | odd_ints
    | st.floats(allow_nan=True, allow_infinity=True)  # Python's json reads and writes NaN/Infinity
    | st.text(max_size=20)
    | lone_surrogates
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
# Not base64 at all, or base64 with a wrong length or padding, or not ASCII.
bad_base64 = st.sampled_from(["A", "AAAAA", "ab=c", "=", "é", "AAA\u0100", "A===="]) | st.text(
    alphabet="ABCD!=", min_size=1, max_size=9
).filter(lambda s: not decodes_as_base64(s))


def decodes_as_base64(text: str) -> bool:
    """Does the adapter's decoder (lenient ``b64decode``) accept this text?"""
    try:
        base64.b64decode(text)
    except ValueError:
        return False
    return True


def dumps(message: Any) -> str:
    return json.dumps(message, ensure_ascii=False)


@st.composite
def objects_with_known_types(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON object of any shape with a type the adapter knows: its parsers meet every wrong shape."""
    keys = st.sampled_from(["response", "session", "error", "delta", "item", "usage"])
    message: dict[str, Any] = draw(st.dictionaries(keys, json_values, max_size=4))
    message["type"] = draw(st.sampled_from(KNOWN_TYPES))
    return message


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair in a JSON tree: the places a mutation can hit."""
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        return []
    return [(node, key) for key, _ in children] + [slot for _, child in children for slot in _slots(child)]


@st.composite
def mutated_recordings(draw: st.DrawFn) -> dict[str, Any]:
    """A recorded server message with one to three mutations, anywhere in its tree."""
    message: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(RECORDED)))
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.sampled_from(["drop", "retype", "huge", "wrap", "bad_audio", "rename"]))
        slots = _slots(message)
        if operation == "bad_audio":
            message["type"] = draw(st.sampled_from(AUDIO_DELTA_TYPES))
            message["delta"] = draw(bad_base64 | json_values)
        elif operation == "rename":
            kind = message.get("type")
            legacy = GA_TO_LEGACY.get(kind, LEGACY_NAMES.get(kind)) if isinstance(kind, str) else None
            message["type"] = draw(st.sampled_from([t for t in (legacy, "x.unknown", "") if t is not None]))
        elif slots:
            container, key = draw(st.sampled_from(slots))
            if operation == "drop" and isinstance(container, dict):
                del container[key]
            elif operation == "huge":
                container[key] = draw(huge_strings)
            elif operation == "wrap":
                container[key] = draw(st.sampled_from([[container[key]], {"value": container[key]}]))
            else:  # str ↔ int ↔ null ↔ list ↔ dict, and the odd values in between
                container[key] = draw(json_values)
    return message
