"""A rough cost estimate from ``response.done`` usage: list prices per million tokens, by model family.

Prices change; these are the published OpenAI list prices we knew of (USD per 1M tokens). Unknown models are
priced like ``gpt-realtime``. The estimate is for planning a run, not for billing.
"""

from __future__ import annotations

from dataclasses import dataclass

from s2s_users.core.metrics.records import TurnRecord


@dataclass(frozen=True, slots=True)
class Prices:
    audio_in: float
    audio_cached: float
    audio_out: float
    text_in: float
    text_cached: float
    text_out: float


PRICES: dict[str, Prices] = {
    "gpt-realtime": Prices(32.0, 0.40, 64.0, 4.0, 0.40, 16.0),
    "gpt-realtime-mini": Prices(10.0, 0.30, 20.0, 0.60, 0.06, 2.40),
}


def prices_for(model: str) -> Prices:
    """The longest known prefix wins (``gpt-realtime-mini-2025…`` → mini); default ``gpt-realtime``."""
    matches = [name for name in PRICES if model.startswith(name)]
    return PRICES[max(matches, key=len)] if matches else PRICES["gpt-realtime"]


def turn_cost_usd(model: str, turn: TurnRecord) -> float:
    p = prices_for(model)
    usage = turn.usage
    # Cached tokens are a subset of input tokens; we do not know their audio/text split, so price them as audio.
    audio_in = max(usage.input_audio_tokens - usage.cached_tokens, 0)
    cost = (
        audio_in * p.audio_in
        + usage.cached_tokens * p.audio_cached
        + usage.input_text_tokens * p.text_in
        + usage.output_audio_tokens * p.audio_out
        + usage.output_text_tokens * p.text_out
    )
    return cost / 1_000_000
