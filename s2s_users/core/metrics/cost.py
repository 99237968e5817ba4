"""A cost estimate from the usage the server reports: list prices per million tokens, by model name prefix.

Prices change, so the table is the user's to override (``--prices FILE``, see ``PriceTable.from_mapping``). The
defaults are the list prices we knew of, in USD per 1M tokens, as of ``DEFAULT_PRICES_AS_OF``. A model that no
entry's prefix matches is refused at start-up unless the table has a ``"*"`` entry: an explicit fallback, never a
silent guess. The estimate is for planning a run and guarding its budget, not for billing.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2s_users.core.events import Usage
from s2s_users.core.exceptions import ConfigError

DEFAULT_PRICES_AS_OF = "2025-09 (OpenAI and Google list prices; check yours)"
FALLBACK = "*"


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per 1M tokens."""

    audio_in: float
    audio_cached: float
    audio_out: float
    text_in: float
    text_cached: float
    text_out: float

    def cost_usd(self, usage: Usage) -> float:
        # Cached tokens are a subset of input tokens; we do not know their audio/text split, so price them as audio.
        audio_in = max(usage.input_audio_tokens - usage.cached_tokens, 0)
        cost = (
            audio_in * self.audio_in
            + usage.cached_tokens * self.audio_cached
            + usage.input_text_tokens * self.text_in
            + usage.output_audio_tokens * self.audio_out
            + usage.output_text_tokens * self.text_out
        )
        return cost / 1_000_000


_FIELDS = tuple(f.name for f in dataclasses.fields(Prices))

DEFAULT_PRICES: dict[str, Prices] = {
    "gpt-realtime": Prices(32.0, 0.40, 64.0, 4.0, 0.40, 16.0),
    "gpt-realtime-mini": Prices(10.0, 0.30, 20.0, 0.60, 0.06, 2.40),
    "gpt-4o-realtime": Prices(40.0, 2.50, 80.0, 5.0, 2.50, 20.0),
    "gpt-4o-mini-realtime": Prices(10.0, 0.30, 20.0, 0.60, 0.30, 2.40),
    "gemini": Prices(3.0, 0.75, 12.0, 0.50, 0.125, 2.0),
}


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Prices by model name prefix (the longest matching prefix wins; ``"*"`` is the explicit fallback)."""

    prices: Mapping[str, Prices]
    source: str = "built-in prices as of " + DEFAULT_PRICES_AS_OF

    def lookup(self, model: str) -> Prices | None:
        """The model's prices, or None when no entry (and no ``"*"``) prices it."""
        matches = [name for name in self.prices if name != FALLBACK and model.startswith(name)]
        if matches:
            return self.prices[max(matches, key=len)]
        return self.prices.get(FALLBACK)

    def unpriced(self, models: Iterable[str]) -> list[str]:
        return [model for model in models if self.lookup(model) is None]

    def for_model(self, model: str) -> Prices:
        prices = self.lookup(model)
        if prices is not None:
            return prices
        known = ", ".join(sorted(self.prices))
        raise ConfigError(
            f"no price for model {model!r} in {self.source} (known prefixes: {known}): add it to a --prices file, "
            'or a "*" entry to price unknown models explicitly'
        )

    def with_fallback(self, prices: Prices, why: str) -> PriceTable:
        """The table with a ``"*"`` entry (unless it has one): an explicit price for every other model."""
        if FALLBACK in self.prices:
            return self
        return PriceTable({**self.prices, FALLBACK: prices}, f"{self.source}; other models as {why}")

    def check(self, models: Iterable[str]) -> None:
        """Refuse, at start-up, a model the table cannot price (a run with a budget must price everything)."""
        for model in models:
            self.for_model(model)

    @classmethod
    def from_mapping(cls, data: Any, source: str) -> PriceTable:
        """A table from a parsed ``--prices`` file: ``{"gpt-realtime": {"audio_in": 32, ...}, "*": {...}}``, every
        field of ``Prices`` given, in USD per 1M tokens."""
        if not isinstance(data, Mapping) or not data:
            raise ConfigError(
                f"{source}: a price table maps model prefixes to prices, e.g. [gpt-realtime] audio_in = 32"
            )
        table: dict[str, Prices] = {}
        for model, entry in data.items():
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{source}: {model!r} must be a table of prices ({', '.join(_FIELDS)})")
            missing = [name for name in _FIELDS if name not in entry]
            unknown = [str(name) for name in entry if name not in _FIELDS]
            if missing or unknown:
                problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
                raise ConfigError(f"{source}: {model!r}: {problem} (give {', '.join(_FIELDS)}, USD per 1M tokens)")
            values = {name: entry[name] for name in _FIELDS}
            bad = [name for name, value in values.items() if not _price(value)]
            if bad:
                raise ConfigError(f"{source}: {model!r}: {bad[0]} = {values[bad[0]]!r} is not a price (a number >= 0)")
            table[str(model)] = Prices(**{name: float(value) for name, value in values.items()})
        return cls(table, source)


def _price(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


DEFAULT_TABLE = PriceTable(DEFAULT_PRICES)


def load_prices(path: Path) -> PriceTable:
    """A ``--prices`` file: TOML (``[gpt-realtime]`` tables) or JSON, with the fields of ``Prices``."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"--prices {path}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--prices {path} does not parse: {str(exc).splitlines()[0]}") from None
    return PriceTable.from_mapping(data, f"--prices {path}")
