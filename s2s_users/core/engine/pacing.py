"""Deadline pacing: chunk k of a turn is due at ``t0 + k·chunk_s / speed``; never accumulated sleeps.

The pacer only computes due times and measures lag; the I/O loop does the waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

from s2s_users.core.exceptions import ConfigError


@dataclass(frozen=True, slots=True)
class Pace:
    """``speed`` is a factor over real time; ``None`` means burst (everything at once)."""

    speed: float | None

    @property
    def label(self) -> str:
        if self.speed is None:
            return "burst"
        return "realtime" if self.speed == 1.0 else f"{self.speed:g}x"


def parse_pace(text: str) -> Pace:
    """Read ``--s2s-pace``: ``realtime``, ``burst`` or a positive speed factor such as ``4``."""
    value = text.strip().lower()
    if value == "realtime":
        return Pace(1.0)
    if value == "burst":
        return Pace(None)
    try:
        speed = float(value.rstrip("x"))
    except ValueError:
        speed = 0.0
    if not speed > 0 or speed == float("inf"):
        raise ConfigError(f"--s2s-pace {text!r} is not valid: use realtime, burst, or a speed factor like 4")
    return Pace(speed)


class ChunkPacer:
    """Due times and lag for the chunks of one turn."""

    def __init__(self, t0: float, chunk_s: float, pace: Pace) -> None:
        self.t0 = t0
        self.chunk_s = chunk_s
        self.pace = pace
        self.max_lag_s = 0.0
        """The latest any chunk of this turn was sent, against its deadline."""

    def due(self, index: int) -> float:
        if self.pace.speed is None:
            return self.t0
        return self.t0 + index * self.chunk_s / self.pace.speed

    def sent(self, index: int, now: float) -> None:
        """Record that chunk ``index`` went out at ``now``."""
        self.max_lag_s = max(self.max_lag_s, now - self.due(index))
