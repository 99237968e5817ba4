"""Cost estimates from usage tokens, and the price table a user can give."""

from __future__ import annotations

import pytest

from s2s_users.core.events import Usage
from s2s_users.core.exceptions import ConfigError
from s2s_users.core.metrics.cost import DEFAULT_PRICES, DEFAULT_TABLE, PriceTable

PRICE_FIELDS = {"audio_in": 1, "audio_cached": 0.5, "audio_out": 2, "text_in": 0.25, "text_cached": 0, "text_out": 1}


def test_the_longest_prefix_wins_and_an_unknown_model_is_refused_with_the_fix() -> None:
    assert DEFAULT_TABLE.for_model("gpt-realtime-mini-2025-10-06") == DEFAULT_PRICES["gpt-realtime-mini"]
    assert DEFAULT_TABLE.for_model("gpt-realtime-2") == DEFAULT_PRICES["gpt-realtime"]
    assert DEFAULT_TABLE.lookup("some-clone") is None and DEFAULT_TABLE.unpriced(["gpt-realtime", "x"]) == ["x"]
    with pytest.raises(ConfigError, match=r"no price for model 'some-clone'.*add it to a --prices file"):
        DEFAULT_TABLE.check(["gpt-realtime", "some-clone"])


def test_a_star_entry_prices_unknown_models_explicitly() -> None:
    table = PriceTable.from_mapping({"*": PRICE_FIELDS}, "prices.toml")
    assert table.for_model("some-clone").audio_out == 2.0


def test_a_response_costs_its_tokens_at_list_price() -> None:
    usage = Usage(input_audio_tokens=1000, cached_tokens=400, input_text_tokens=100, output_audio_tokens=200)
    expected = (600 * 32.0 + 400 * 0.40 + 100 * 4.0 + 200 * 64.0) / 1_000_000
    assert DEFAULT_PRICES["gpt-realtime"].cost_usd(usage) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "maps model prefixes to prices"),
        ({"gpt-realtime": 3}, "must be a table of prices"),
        ({"gpt-realtime": {**PRICE_FIELDS, "audio_in": "cheap"}}, "audio_in = 'cheap' is not a price"),
        ({"gpt-realtime": {**PRICE_FIELDS, "audio_out": -1}}, "audio_out = -1 is not a price"),
        ({"gpt-realtime": {"audio_in": 1}}, "missing audio_cached"),
        ({"gpt-realtime": {**PRICE_FIELDS, "video": 1}}, "unknown video"),
    ],
)
def test_a_malformed_price_table_is_refused_in_one_line(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        PriceTable.from_mapping(data, "prices.toml")
    assert "\n" not in str(info.value) and str(info.value).startswith("prices.toml")
