"""Which model each user plays: ``--s2s-model a,b`` spreads users evenly, ``a:3,b:1`` by weight.

The order is deterministic and interleaved (smooth weighted round robin, as nginx balances upstreams): with
``a:3,b:1`` users go a, a, b, a, a, a, b, a... so any first few users already follow the weights roughly, and
workers that start at different offsets of the same sequence together keep them.
"""

from __future__ import annotations

from s2s_users.core.exceptions import ConfigError


def parse_models(text: str) -> tuple[tuple[str, int], ...]:
    """``"a:3, b"`` → ``(("a", 3), ("b", 1))``; a weight is a whole number of 1 or more."""
    models: list[tuple[str, int]] = []
    for item in (part.strip() for part in str(text).split(",")):
        if not item:
            continue
        name, sep, weight_text = item.rpartition(":")
        if not sep:
            name, weight_text = item, "1"
        name = name.strip()
        try:
            weight = int(weight_text)
        except ValueError:
            raise ConfigError(f"--s2s-model {item!r}: the weight after ':' must be a whole number") from None
        if not name or weight < 1:
            raise ConfigError(f"--s2s-model {item!r}: use NAME or NAME:WEIGHT with a weight of 1 or more")
        if name in (known for known, _ in models):
            raise ConfigError(f"--s2s-model names {name!r} twice: give it once, with a weight")
        models.append((name, weight))
    if not models:
        raise ConfigError("--s2s-model is empty: name at least one model, e.g. --s2s-model gpt-realtime")
    return tuple(models)


def model_sequence(models: tuple[str, ...], weights: tuple[int, ...]) -> tuple[str, ...]:
    """One cycle of the user → model order: each model appears ``weight`` times, interleaved."""
    current = [0] * len(models)
    total = sum(weights)
    order = []
    for _ in range(total):
        current = [c + w for c, w in zip(current, weights, strict=True)]
        best = max(range(len(models)), key=lambda i: current[i])
        current[best] -= total
        order.append(models[best])
    return tuple(order)
