"""Deadline pacing: chunk k of a turn is due at ``t0 + k·chunk_s / speed``; never accumulated sleeps.

The pacer only computes due times and measures lag; the I/O loop does the waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.metrics.lag import LagHistogram


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
    """Due times and lag for the chunks of one turn: every chunk's lag goes into ``lags``."""

    def __init__(self, t0: float, chunk_s: float, pace: Pace) -> None:
        self.t0 = t0
        self.chunk_s = chunk_s
        self.pace = pace
        self._step = 0.0 if pace.speed is None else chunk_s / pace.speed
        self.lags = LagHistogram()
        """How late each chunk of this turn went out, against its deadline."""

    @property
    def max_lag_s(self) -> float:
        """The latest any chunk of this turn was sent, against its deadline."""
        return self.lags.max_s

    def due(self, index: int) -> float:
        return self.t0 + index * self._step

    def sent(self, index: int, now: float) -> None:
        """Record that chunk ``index`` went out at ``now``."""
        self.lags.add(now - self.t0 - index * self._step)
