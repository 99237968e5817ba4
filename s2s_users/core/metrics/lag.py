"""The load generator's own clock: how late every prompt chunk went out, as a small mergeable histogram.

A generator that sends late changes what a server-VAD model hears and when it answers, and then reports its own
lag as the provider's behaviour. So every chunk's lateness against its deadline is counted here (not only the worst
chunk of each turn), per worker, and merged on the record owner; the report and the web UI say when the generator
itself fell behind (``LATE_P99_MS``) and its numbers are not to be trusted.

Buckets are log-linear over 10 µs ticks (as HdrHistogram does it): exact below 0.64 ms, then 32 buckets per
doubling (quantiles within about 3 %). Whatever the lags, a histogram holds at most a few hundred buckets, so it
rides in every batch and health point; the exact maximum is kept beside them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The file of a run folder that holds each worker's histogram (``{"workers": {name: to_wire()}}``).
PACING_FILE = "pacing.json"
TICK_S = 1e-5
"""The unit of the buckets: 10 µs."""
_SUB_BITS = 5
_LINEAR = 2 << _SUB_BITS  # ticks below this have a bucket each: 64 ticks = 0.64 ms
LATE_P99_MS = 20.0
"""A generator whose chunk lag p99 is above this was too busy to keep its clock: add workers."""


def bucket_of(ticks: int) -> int:
    """The bucket index of a lag of ``ticks`` (≥ 0) ticks."""
    if ticks < _LINEAR:
        return ticks
    shift = ticks.bit_length() - _SUB_BITS - 1
    return (shift << _SUB_BITS) + (ticks >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The ticks a bucket covers: ``[low, high)``."""
    if index < _LINEAR:
        return index, index + 1
    shift = (index >> _SUB_BITS) - 1
    mantissa = index - (shift << _SUB_BITS)
    return mantissa << shift, (mantissa + 1) << shift


@dataclass(frozen=True, slots=True)
class LagFigures:
    """What a report says of a histogram: chunks counted, p50/p99/max in ms, and whether the generator was late."""

    chunks: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @property
    def late(self) -> bool:
        return self.p99_ms is not None and self.p99_ms > LATE_P99_MS


class LagHistogram:
    """Counts of chunk lags by bucket, and the exact maximum. ``add`` is on the hot path: keep it cheap."""

    __slots__ = ("counts", "max_s")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.max_s = 0.0

    def add(self, lag_s: float) -> None:
        """Count one chunk that went out ``lag_s`` seconds after its deadline (early counts as on time)."""
        if lag_s > self.max_s:
            self.max_s = lag_s
        ticks = int(lag_s / TICK_S) if lag_s > 0 else 0
        index = ticks if ticks < _LINEAR else bucket_of(ticks)
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def __bool__(self) -> bool:
        return bool(self.counts)

    def merge(self, other: LagHistogram) -> None:
        counts = self.counts
        for index, n in other.counts.items():
            counts[index] = counts.get(index, 0) + n
        self.max_s = max(self.max_s, other.max_s)

    def clear(self) -> None:
        self.counts, self.max_s = {}, 0.0

    def take(self) -> LagHistogram:
        """Return the counts so far and start again (a batch's or a health point's window)."""
        out = LagHistogram()
        out.counts, out.max_s = self.counts, self.max_s
        self.counts, self.max_s = {}, 0.0
        return out

    def quantile_ms(self, q: float) -> float | None:
        """The q-th quantile (0 < q ≤ 1) in ms: the middle of its bucket, never above the maximum; None if empty."""
        total = self.count
        if not total:
            return None
        rank = q * total
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                low, high = bucket_bounds(index)
                return min((low + high) / 2 * TICK_S, self.max_s) * 1000
        return self.max_s * 1000

    def figures(self) -> LagFigures:
        if not self.counts:
            return LagFigures(0, None, None, None)
        return LagFigures(self.count, self.quantile_ms(0.5), self.quantile_ms(0.99), self.max_s * 1000)

    # --- on the wire and on disk (plain JSON data) --------------------------------------------------------

    def to_wire(self) -> dict[str, Any]:
        return {"counts": [[index, n] for index, n in sorted(self.counts.items())], "max_s": self.max_s}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> LagHistogram:
        histogram = cls()
        for index, n in data.get("counts", ()):
            if int(index) >= 0 and int(n) > 0:
                histogram.counts[int(index)] = histogram.counts.get(int(index), 0) + int(n)
        histogram.max_s = max(float(data.get("max_s", 0.0)), 0.0)
        return histogram

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LagHistogram) and (self.counts, self.max_s) == (other.counts, other.max_s)

    def __repr__(self) -> str:
        return f"LagHistogram({self.figures()})"


class PacingWindow:
    """A process's chunk lags for its figures: those of the turns that began inside the measured window.

    ``--reset-stats`` starts the window again once every user is spawned. A turn begun before is left out whole: its
    first chunks went out while many sessions were connecting at once (start-up work, not the load measured), and
    clearing the histogram alone would still count them when the turn ends, after the reset."""

    __slots__ = ("lags", "since")

    def __init__(self) -> None:
        self.lags = LagHistogram()
        self.since = -math.inf
        """When the window began, on the sessions' clock (``time.monotonic``)."""

    def add_turn(self, started_at: float, lags: LagHistogram) -> None:
        """A turn's chunk lags, if it began inside the window."""
        if started_at >= self.since:
            self.lags.merge(lags)

    def restart(self, now: float) -> None:
        self.since = now
        self.lags.clear()


def merged(histograms: Iterable[LagHistogram]) -> LagHistogram:
    """One histogram of many (e.g. every worker's)."""
    out = LagHistogram()
    for histogram in histograms:
        out.merge(histogram)
    return out
