"""Property-based fuzzing of the OpenAI Realtime adapter: whatever a server sends, one neutral event comes out.

Three sources of input: arbitrary bytes and text, valid JSON of any shape, and mutations of the recorded server
transcripts in ``tests/data`` (keys dropped, values retyped, huge strings, bad base64, unknown and legacy names).
The adapter must never raise: malformed input becomes ``MalformedMessage`` (which the engine turns into
``protocol.unexpected``) or ``UnknownEvent`` (counted, never fatal), and every field of every event has the type
its dataclass declares, so nothing downstream (engine, records, sinks) meets a surprise.
"""

from __future__ import annotations

import base64
import copy
import json
import types
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from s2s_users import events as ev
from s2s_users.protocols.openai_realtime import (
    LEGACY_NAMES,
    MAX_TYPE_NAME,
    MAX_UNKNOWN_TYPES,
    OpenAIRealtimeProtocol,
    RealtimeSettings,
)

DATA = Path(__file__).parent.parent / "data"
EVENT_TYPES: tuple[type, ...] = typing.get_args(ev.Event)
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
).filter(lambda s: not _decodes(s))


def _decodes(text: str) -> bool:
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


# --- properties ---------------------------------------------------------------------------------------------


def _conforms(value: Any, hint: Any) -> bool:
    """``value`` has the declared type (bool is not an int here, and ints are not floats)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_conforms(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def assert_well_formed(event: Any) -> None:
    """Every field has its declared type; strings can be stored (UTF-8); token counts are real counts."""
    assert is_dataclass(event)
    hints = typing.get_type_hints(type(event))
    for item in fields(event):
        value = getattr(event, item.name)
        assert _conforms(value, hints[item.name]), f"{type(event).__name__}.{item.name} = {value!r:.80}"
        if isinstance(value, str):
            value.encode("utf-8")  # a lone surrogate here would break a sink writing the record
        if isinstance(value, int):
            assert 0 <= value < 2**53, f"{item.name} = {value}"
        if is_dataclass(value):
            assert_well_formed(value)


def parse_one(data: str | bytes) -> ev.Event:
    """The single event one message yields, after checking it is exactly one and well formed."""
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    adapter.receive_message(data)
    events = adapter.events_received()
    assert len(events) == 1, events
    (event,) = events
    assert isinstance(event, EVENT_TYPES)
    assert_well_formed(event)
    assert adapter.events_received() == []
    return event


def _typed_object(data: str | bytes) -> bool:
    """Would this parse as a JSON object with a string ``type``?"""
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(message, dict) and isinstance(message.get("type"), str)


@settings(max_examples=300)
@given(st.binary(max_size=200) | st.text(max_size=200) | st.text(max_size=200).map(str.encode))
@example(b'{"type": "session.created", "session": {"id": "\xff"}}')  # not UTF-8
def test_arbitrary_bytes_and_text_never_raise(data: str | bytes) -> None:
    event = parse_one(data)
    if not _typed_object(data):
        assert isinstance(event, ev.MalformedMessage)


@settings(max_examples=300)
@given(json_values, st.booleans())
def test_json_of_any_shape_never_raises(value: Any, as_bytes: bool) -> None:
    text = dumps(value)
    event = parse_one(text.encode("utf-8", "surrogatepass") if as_bytes else text)
    if not (isinstance(value, dict) and isinstance(value.get("type"), str)):
        assert isinstance(event, ev.MalformedMessage)


@settings(max_examples=500)
@given(objects_with_known_types())
# Each of these raised before the adapter read fields defensively (or, for the first two, broke the engine
# or the session record afterwards: str.lower() of an int code, float() of a 10**400 token count).
@example({"type": "error", "error": {"code": 429, "message": "slow down"}})
@example({"type": "response.done", "response": {"status": "completed", "usage": {"input_tokens": 10**400}}})
@example({"type": "response.done", "response": {"status": "completed", "status_details": "oops"}})
@example({"type": "response.created", "response": "resp_1"})
@example({"type": "session.created", "session": ["sess_1"]})
@example({"type": "error", "error": "rate limited"})
@example({"type": "response.done", "response": {"usage": {"input_token_details": [1]}}})
@example({"type": "error", "error": {"message": "\ud800"}})
def test_known_types_with_wrong_shapes_never_raise(message: dict[str, Any]) -> None:
    event = parse_one(dumps(message))
    assert not isinstance(event, ev.UnknownEvent)


@settings(max_examples=500)
@given(mutated_recordings())
@example({"type": "response.output_audio.delta", "delta": "AAAAA"})  # binascii.Error: bad length
@example({"type": "response.audio.delta", "delta": 4800})  # TypeError
@example({"type": "response.output_audio.delta", "delta": "é" * 8})  # ValueError: not ASCII
@example({"type": "response.output_audio.delta"})  # no delta at all
def test_mutated_recordings_never_raise(message: dict[str, Any]) -> None:
    event = parse_one(dumps(message))
    kind = message.get("type")
    if not isinstance(kind, str):
        assert isinstance(event, ev.MalformedMessage)
    elif kind in AUDIO_DELTA_TYPES and not (isinstance(message.get("delta"), str) and _decodes(message["delta"])):
        # Audio is what we measure: a delta we cannot decode is a broken server, never "zero audio".
        assert isinstance(event, ev.MalformedMessage)
    elif kind not in KNOWN_TYPES:
        assert event == ev.UnknownEvent(kind[:MAX_TYPE_NAME])


@settings(max_examples=100)
@given(st.lists(mutated_recordings() | objects_with_known_types(), max_size=20))
def test_a_stream_yields_one_event_per_message_and_counts_names(messages: list[dict[str, Any]]) -> None:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    for message in messages:
        adapter.receive_message(dumps(message))
    events = adapter.events_received()
    assert len(events) == len(messages)
    assert adapter.legacy_events == sum(isinstance(m.get("type"), str) and m["type"] in LEGACY_NAMES for m in messages)
    assert sum(adapter.unknown_events.values()) == sum(isinstance(e, ev.UnknownEvent) for e in events)


@given(st.integers(min_value=900, max_value=200_000), st.sampled_from("[{"))
def test_deeply_nested_json_is_malformed_not_a_recursion_error(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    inner = '"a":' if opener == "{" else ""
    event = parse_one((opener + inner) * depth + "1" + closer * depth)
    assert isinstance(event, ev.MalformedMessage)


def test_unknown_type_names_are_counted_in_bounded_memory() -> None:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    for n in range(3 * MAX_UNKNOWN_TYPES):
        adapter.receive_message(dumps({"type": f"x.{n}." + "y" * 10_000}))
    assert len(adapter.unknown_events) <= MAX_UNKNOWN_TYPES + 1  # the first ones by name, the rest as "other"
    assert sum(adapter.unknown_events.values()) == 3 * MAX_UNKNOWN_TYPES  # every one counted
    assert all(len(name) <= MAX_TYPE_NAME for name in adapter.unknown_events)
