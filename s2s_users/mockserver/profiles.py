"""Model profiles of the mock: how much audio each turn gets, how fast it streams, where it breaks."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """Assistant audio per turn is lognormal (by median and P95), clipped to [audio_s_min, audio_s_max]."""

    name: str
    audio_s_median: float
    audio_s_p95: float
    audio_s_min: float
    audio_s_max: float
    ttfa_s: float = 0.6
    stream_speed: float = 4.0
    delta_ms: int = 100
    ceiling_s: float | None = None
    voice: str = "marin"

    def draw_audio_s(self, rng: random.Random) -> float:
        sigma = math.log(self.audio_s_p95 / self.audio_s_median) / 1.6449
        value = rng.lognormvariate(math.log(self.audio_s_median), sigma)
        return min(max(value, self.audio_s_min), self.audio_s_max)

    def with_ceiling(self, ceiling_s: float | None) -> ModelProfile:
        return replace(self, ceiling_s=ceiling_s)


DEFAULT_PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile("gpt-realtime", 6.05, 8.15, 2.5, 9.5),
        ModelProfile("gpt-realtime-mini", 4.5, 6.5, 2.0, 8.0),
        # The seed's model: once 300 s of assistant audio are in context, zero audio, then a drop.
        ModelProfile("gpt-realtime-2", 9.65, 14.0, 3.0, 15.0, ceiling_s=300.0),
    )
}
