"""``reading.json_loads`` calls json's C scanner directly: it must be ``json.loads`` in every value and error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from s2s_users.core.protocols.reading import json_loads
from tests.support.server_messages import dumps, json_values


def outcome(loads: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", loads(text)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), json_values.map(dumps), json_values.map(lambda v: json.dumps(v, indent=1))))
@example('{"type":"response.created"}')
@example('{"a":1} ')
@example(' {"a":1}')
@example('{"a":1}{"b":2}')
@example('{"a":1}x')
@example('{"a":')
@example('{"a":NaN}')
@example('{"a":"\\ud800"}')
@example("{" * 100_000)
def test_a_message_reads_as_json_loads_reads_it_value_or_error(text: str) -> None:
    assert outcome(json_loads, text) == outcome(json.loads, text)


@pytest.mark.parametrize("text", ['{"a":1}', '{"a":{"b":[1,2.5,null,true]}}'])
def test_an_object_read_twice_gives_equal_values_that_share_nothing(text: str) -> None:
    first, second = json_loads(text), json_loads(text)
    assert first == second == json.loads(text)
    assert first is not second
