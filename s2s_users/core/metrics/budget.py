"""Two running figures of a whole run, kept by the record owner: what it has cost so far (for ``--max-cost``), and
the capacity to silent failure it has measured so far (where sessions without ``--expected-capacity`` are warned).
"""

from __future__ import annotations

import statistics

from s2s_users.core.config import ROTATED
from s2s_users.core.metrics.records import SessionRecord


class CostMeter:
    """The run's estimated cost: finished sessions plus open sessions' cost so far (their last progress)."""

    def __init__(self, limit_usd: float | None) -> None:
        self.limit_usd = limit_usd
        self.finished_usd = 0.0
        self.open_usd = 0.0

    @property
    def total_usd(self) -> float:
        return self.finished_usd + self.open_usd

    @property
    def over_budget(self) -> bool:
        return self.limit_usd is not None and self.total_usd >= self.limit_usd

    def replace_open(self, old: SessionRecord | None, new: SessionRecord | None) -> None:
        self.open_usd += (new.estimated_cost_usd if new else 0.0) - (old.estimated_cost_usd if old else 0.0)

    def add_session(self, record: SessionRecord) -> None:
        self.finished_usd += record.estimated_cost_usd


class CapacityLearner:
    """Per model, the median capacity to silent failure of the sessions that failed silently so far (sessions of
    the rotated arm are left out: their provider sessions are not the conversation's)."""

    def __init__(self) -> None:
        self._seen: dict[str, list[float]] = {}

    def add_session(self, record: SessionRecord) -> None:
        if record.silent_failure_turn is not None and record.arm != ROTATED:
            self._seen.setdefault(record.model, []).append(record.capacity_to_silent_failure_s)

    def capacities(self) -> dict[str, float]:
        return {model: statistics.median(seen) for model, seen in sorted(self._seen.items())}
