"""Cost estimates from usage tokens."""

from __future__ import annotations

import dataclasses

import pytest

from s2s_users.core.metrics.cost import PRICES, prices_for, turn_cost_usd
from tests.support.records import turn as make_turn


def test_mini_models_get_mini_prices_and_unknown_models_the_default() -> None:
    assert prices_for("gpt-realtime-mini-2025-10-06") == PRICES["gpt-realtime-mini"]
    assert prices_for("some-clone") == PRICES["gpt-realtime"]


def test_a_turn_costs_its_tokens_at_list_price() -> None:
    turn = dataclasses.replace(
        make_turn(), input_audio_tokens=1000, cached_tokens=400, input_text_tokens=100, output_audio_tokens=200
    )
    expected = (600 * 32.0 + 400 * 0.40 + 100 * 4.0 + 200 * 64.0) / 1_000_000
    assert turn_cost_usd("gpt-realtime", turn) == pytest.approx(expected)
