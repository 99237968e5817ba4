"""``--s2s-model`` with weights: parsing, one-line errors, and the interleaved order users get."""

from __future__ import annotations

from collections import Counter

import pytest

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.model_mix import model_sequence, parse_models


def test_names_without_weights_weigh_one_and_weights_are_read() -> None:
    assert parse_models("gpt-realtime, gpt-realtime-2") == (("gpt-realtime", 1), ("gpt-realtime-2", 1))
    assert parse_models("gpt-realtime:3,gpt-realtime-2:1") == (("gpt-realtime", 3), ("gpt-realtime-2", 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--s2s-model is empty"),
        ("a:x", "--s2s-model 'a:x': the weight after ':' must be a whole number"),
        ("a:0", "--s2s-model 'a:0': use NAME or NAME:WEIGHT with a weight of 1 or more"),
        ("a,a:2", "--s2s-model names 'a' twice"),
    ],
)
def test_bad_model_lists_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_models(text)
    assert str(info.value).startswith(message)


def test_weights_three_to_one_interleave_and_any_cycle_keeps_them() -> None:
    order = model_sequence(("a", "b"), (3, 1))
    assert Counter(order) == {"a": 3, "b": 1}
    assert order == ("a", "a", "b", "a")
    assert model_sequence(("a", "b", "c"), (1, 1, 1)) == ("a", "b", "c")
    # two workers starting at offsets 0 and 1 of the cycle, 2 users each: still 3:1 overall
    assert Counter([order[0], order[1], order[1], order[2]]) == {"a": 3, "b": 1}
