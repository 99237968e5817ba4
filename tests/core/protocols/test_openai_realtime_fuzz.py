"""Property-based fuzzing of the OpenAI Realtime adapter: whatever a server sends, one neutral event comes out.

Three sources of input: arbitrary bytes and text, valid JSON of any shape, and mutations of the recorded server
transcripts in ``tests/data`` (keys dropped, values retyped, huge strings, bad base64, unknown and legacy names).
The adapter must never raise: malformed input becomes ``MalformedMessage`` (which the engine turns into
``protocol.unexpected``) or ``UnknownEvent`` (counted, never fatal), and every field of every event has the type
its dataclass declares, so nothing downstream (engine, records, sinks) meets a surprise.
"""

from __future__ import annotations

import base64
import json
import types
import typing
from dataclasses import fields, is_dataclass
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from s2s_users.core import events as ev
from s2s_users.core.protocols import openai_realtime
from s2s_users.core.protocols.openai_deltas import read_audio_delta
from s2s_users.core.protocols.openai_realtime import (
    LEGACY_NAMES,
    OpenAIRealtimeProtocol,
    RealtimeSettings,
)
from s2s_users.core.protocols.reading import MAX_TYPE_NAME, MAX_UNKNOWN_TYPES
from tests.support.server_messages import (
    AUDIO_DELTA_TYPES,
    KNOWN_TYPES,
    decodes_as_base64,
    dumps,
    json_values,
    mutated_recordings,
    objects_with_known_types,
)

EVENT_TYPES: tuple[type, ...] = typing.get_args(ev.Event)


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
    elif kind in AUDIO_DELTA_TYPES and not (
        isinstance(message.get("delta"), str) and decodes_as_base64(message["delta"])
    ):
        # Audio is what we measure: a delta we cannot decode is a broken server, never "zero audio".
        assert isinstance(event, ev.MalformedMessage)
    elif kind not in KNOWN_TYPES:
        storable = kind.encode("utf-8", "replace").decode("utf-8")
        assert event == ev.UnknownEvent(storable[:MAX_TYPE_NAME])


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


def _general_read(text: str) -> tuple[list[ev.Event], int]:
    """The events and legacy count of the general path (``json.loads`` of the whole message, then the fields)."""
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    with mock.patch.object(openai_realtime, "read_audio_delta", lambda data: None):
        adapter.receive_message(text)
    return adapter.events_received(), adapter.legacy_events


_PAYLOAD_EDITS = ("", "=", "==", "===", "A", "\x01", " ", "\\n", "\\/", '\\"', "é", "\x7f", "A=A", "=AAA")


@settings(max_examples=300)
@given(
    mutated_recordings()
    | objects_with_known_types()
    | st.builds(
        lambda kind, pcm, rid: {"type": kind, "response_id": rid, "delta": base64.b64encode(pcm).decode()},
        st.sampled_from(AUDIO_DELTA_TYPES),
        st.binary(max_size=40),
        st.text(max_size=5),
    ),
    st.sampled_from(_PAYLOAD_EDITS),
    st.integers(min_value=0, max_value=64),
)
@example({"type": "response.output_audio.delta", "delta": "AAAA", "x": {"delta": "BBBB"}}, "", 0)
@example({"type": "response.audio.delta", "delta": "AAAA", "response_id": "\ud800"}, "", 0)
def test_the_one_pass_read_of_audio_deltas_gives_what_the_general_path_gives(
    message: dict[str, Any], edit: str, at: int
) -> None:
    for text in (dumps(message), json.dumps(message), json.dumps(message, separators=(",", ":"))):
        start = text.find('"delta": "' if '"delta": "' in text else '"delta":"')
        cut = start + text[start:].find('"', 8) + 1 + at if start >= 0 else len(text)
        for variant in (text, text[:-1], text[:cut] + edit + text[cut:]):
            adapter = OpenAIRealtimeProtocol(RealtimeSettings())
            adapter.receive_message(variant)
            assert (adapter.events_received(), adapter.legacy_events) == _general_read(variant)


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"response.output_audio.delta","response_id":"r","delta":"AAAA"}',
        '{"type":"response.audio.delta","response_id":"r","delta":"AAA="}',
        '{"type":"response.output_audio.delta","delta":"AAAA","type":"error"}',  # the last "type" wins
        '{"type":"response.output_audio.delta","delta":"AAAA","type":"response.audio.delta"}',
        '{"type":"response.output_audio.delta","delta":"AAAA","delta":"BBBB"}',
        '{"type":"response.output_audio.delta","delta":"AAAA","response_id":"\\ud800"}',
        '{"type":"response.output_audio.delta","delta":"AA\x01A="}',
        '{"type":"response.output_audio.delta","delta":"AAAA"',
        '{"type":"response.output_audio.delta","delta":"AAAA"}}',
        '{"type":"response.output_audio.delta","delta":"AAAAAA=="}',
        '{"type":"response.output_audio.delta","delta":"AA==AAAA"}',
        '{"type":"response.output_audio.delta","delta":""}',
    ],
)
def test_the_one_pass_read_of_raw_deltas_gives_what_the_general_path_gives(text: str) -> None:
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    adapter.receive_message(text)
    assert (adapter.events_received(), adapter.legacy_events) == _general_read(text)


def test_a_clean_audio_delta_is_read_in_one_pass() -> None:
    text = '{"type":"response.audio.delta","response_id":"r","delta":"AAAA//8="}'
    assert read_audio_delta(text) == ("response.audio.delta", "r", b"\0\0\0\xff\xff")
