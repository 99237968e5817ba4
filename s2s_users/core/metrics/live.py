"""The live view of a run: what the web UI shows while the test runs, in memory bounded by the run's shape.

Fed by turn events (as turns finish, so failures show at once) and session records (for the survival curve).
Nothing here grows with the number of sessions or turns: quantiles come from fixed-width histograms, the
survival curve from counts per second of capacity, the taxonomy timeline from buckets that widen as the run
goes on. The full records stream to ``sessions.jsonl``; the final report is computed from there, exactly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from s2s_users.core.failures import SILENT, FailureClass, FailureKind, kind_of
from s2s_users.core.metrics.lag import LATE_P99_MS, LagFigures, LagHistogram, merged
from s2s_users.core.metrics.records import SessionOutcome, SessionRecord, TurnRecord
from s2s_users.core.metrics.survival import SurvivalCurve, kaplan_meier_counts

#: Capacity is kept to the second in the live view (the report uses exact values).
CAPACITY_RESOLUTION_S = 1.0
TURN_AUDIO_BIN_S = 0.1
TTFA_BIN_MS = 10.0
TIMELINE_FIRST_BUCKET_S = 10.0
TIMELINE_MAX_BUCKETS = 120
_SILENT_CODES = frozenset(code.value for code in SILENT)


@dataclass(frozen=True, slots=True)
class TurnEvent:
    """The part of a finished turn the live view needs; workers ship these in batches as compact lists."""

    model: str
    started_at: float
    outcome: str
    assistant_audio_s: float
    ttfa_ms: float | None
    solicited: bool = True
    arm: str = ""

    @classmethod
    def of(cls, model: str, turn: TurnRecord, arm: str = "") -> TurnEvent:
        return cls(model, turn.started_at, str(turn.outcome), turn.assistant_audio_s, turn.ttfa_ms, turn.solicited, arm)

    def to_list(self) -> list[Any]:
        return [
            self.model, self.started_at, self.outcome, self.assistant_audio_s, self.ttfa_ms, self.solicited, self.arm
        ]  # fmt: skip

    @classmethod
    def from_list(cls, data: list[Any]) -> TurnEvent:
        model, started_at, outcome, audio_s, ttfa_ms, *rest = data
        solicited = bool(rest[0]) if rest else True
        arm = str(rest[1]) if len(rest) > 1 else ""
        ttfa = None if ttfa_ms is None else ttfa_ms
        return cls(str(model), float(started_at), str(outcome), float(audio_s), ttfa, solicited, arm)


class Histogram:
    """Counts in fixed-width bins: quantiles to within one bin, memory bounded by the range of values."""

    def __init__(self, width: float) -> None:
        self.width = width
        self.counts: Counter[int] = Counter()
        self.total = 0

    def add(self, value: float) -> None:
        self.counts[math.floor(max(value, 0.0) / self.width)] += 1
        self.total += 1

    def quantile(self, q: float) -> float | None:
        """The middle of the bin holding the q-th quantile (0 < q < 1); None when empty."""
        if not self.total:
            return None
        rank = q * self.total
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return (index + 0.5) * self.width
        return (max(self.counts) + 0.5) * self.width


class Timeline:
    """Counts per code per time bucket; when there are too many buckets, pairs merge and the width doubles."""

    def __init__(self, first_width_s: float = TIMELINE_FIRST_BUCKET_S, max_buckets: int = TIMELINE_MAX_BUCKETS) -> None:
        self.width_s = first_width_s
        self.max_buckets = max_buckets
        self.origin: float | None = None
        self.buckets: dict[int, Counter[str]] = {}

    def start(self, at: float) -> float:
        """Anchor the buckets at the run's first event (the first turn), not at the first failure."""
        if self.origin is None:
            self.origin = at
        return self.origin

    def add(self, at: float, code: str) -> None:
        origin = self.start(at)
        index = math.floor(max(at - origin, 0.0) / self.width_s)
        while index >= self.max_buckets:
            self._widen()
            index //= 2
        self.buckets.setdefault(index, Counter())[code] += 1

    def _widen(self) -> None:
        merged: dict[int, Counter[str]] = {}
        for index, counts in self.buckets.items():
            merged.setdefault(index // 2, Counter()).update(counts)
        self.buckets = merged
        self.width_s *= 2

    def rows(self) -> list[dict[str, Any]]:
        """One row per bucket from the start of the run: its start (s from the first turn) and counts."""
        if not self.buckets:
            return []
        return [
            {"start_s": index * self.width_s, "counts": dict(self.buckets.get(index, Counter()))}
            for index in range(max(self.buckets) + 1)
        ]


@dataclass
class ModelLive:
    """Running aggregates of one model."""

    model: str
    arm: str = ""
    """The A/B arm of this row's sessions (empty without an A/B test): rows are per model and arm."""
    active: int = 0
    sessions: int = 0
    turns_ok: int = 0
    turns_failed: int = 0
    audio_s: float = 0.0
    silent_failure_sessions: int = 0
    failed_sessions: int = 0
    lost_sessions: int = 0
    unsolicited: int = 0
    cost_usd: float = 0.0
    open_cost_usd: float = 0.0
    warned: int = 0
    open_warned: int = 0
    turn_audio: Histogram = field(default_factory=lambda: Histogram(TURN_AUDIO_BIN_S))
    ttfa: Histogram = field(default_factory=lambda: Histogram(TTFA_BIN_MS))
    # capacity to silent failure, rounded: time -> [events, censored]; of ended and of open sessions
    capacity: dict[float, list[int]] = field(default_factory=dict)
    open_capacity: dict[float, list[int]] = field(default_factory=dict)

    def capacity_rows(self) -> list[tuple[float, int, int]]:
        """Ended sessions, plus open ones censored where they are now (or failed, if they already did)."""
        return [(t, d, c) for counts in (self.capacity, self.open_capacity) for t, (d, c) in counts.items()]

    def survival(self) -> SurvivalCurve:
        return kaplan_meier_counts(self.capacity_rows())


def _count_capacity(counts: dict[float, list[int]], capacity_s: float, censored: bool, by: int = 1) -> None:
    t = round(capacity_s / CAPACITY_RESOLUTION_S) * CAPACITY_RESOLUTION_S
    cell = counts.setdefault(t, [0, 0])
    cell[1 if censored else 0] += by
    if cell == [0, 0]:
        del counts[t]


class LiveView:
    """Aggregates of the whole run for the web UI (the master's, or the local runner's)."""

    def __init__(self) -> None:
        self.models: dict[str, ModelLive] = {}
        self.taxonomy: Counter[str] = Counter()
        self.timeline = Timeline()
        self.lost_sessions = 0
        self.pacing: dict[str, LagHistogram] = {}
        """Per worker: how late its chunks went out (turns the harness cut are left out)."""

    def _model(self, model: str, arm: str = "") -> ModelLive:
        """The row of a model (and arm): shown as ``model · arm`` when the run has arms."""
        key = f"{model} · {arm}" if arm else model
        if key not in self.models:
            self.models[key] = ModelLive(model, arm)
        return self.models[key]

    def add_turn(self, event: TurnEvent) -> None:
        self.timeline.start(event.started_at)
        row = self._model(event.model, event.arm)
        if not event.solicited:
            row.unsolicited += 1  # the server answered unasked: its audio counts, its latency means nothing
        if event.outcome == "ok" and not event.solicited:
            row.audio_s += event.assistant_audio_s
            return
        if event.outcome == "ok":
            row.turns_ok += 1
            row.audio_s += event.assistant_audio_s
            row.turn_audio.add(event.assistant_audio_s)
            if event.ttfa_ms is not None:
                row.ttfa.add(event.ttfa_ms)
            return
        if event.outcome == FailureClass.HARNESS_STOPPED:
            return  # cut short by the load test: not a measurement
        if kind_of(event.outcome) is not FailureKind.NONE:
            row.turns_failed += 1
        row.audio_s += event.assistant_audio_s
        self.taxonomy[event.outcome] += 1
        self.timeline.add(event.started_at, event.outcome)

    def add_session(self, record: SessionRecord) -> None:
        """Session-level aggregates only: its turns arrive as turn events (lost sessions have none)."""
        row = self._model(record.model, record.arm)
        row.sessions += 1
        row.cost_usd += record.estimated_cost_usd
        row.warned += record.warning_turn is not None
        row.audio_s += record.stray_audio_s  # audio of no live response: in no turn event
        row.failed_sessions += record.outcome == SessionOutcome.FAILED
        if record.end_class == FailureClass.WORKER_LOST:
            self.lost_sessions += 1
            row.lost_sessions += 1
        if record.silent_failure_turn is not None:
            row.silent_failure_sessions += 1
        # Session ends that are not a turn's outcome (drops between turns, rejections) still belong in the taxonomy.
        last = record.turns[-1].outcome if record.turns else None
        if record.end_class is not None and record.end_class != last:
            self.taxonomy[record.end_class] += 1
            self.timeline.add(record.ended_at, record.end_class)
        _count_capacity(row.capacity, record.capacity_to_silent_failure_s, record.silent_censored)

    def add_pacing(self, worker: str, lags: LagHistogram) -> None:
        self.pacing.setdefault(worker, LagHistogram()).merge(lags)

    def pacing_figures(self) -> tuple[LagFigures, list[tuple[str, LagFigures]]]:
        """The whole run's chunk lag, and each worker's (by name)."""
        workers = [(worker, self.pacing[worker].figures()) for worker in sorted(self.pacing)]
        return merged(self.pacing.values()).figures(), workers

    def set_open(self, sessions: Iterable[SessionRecord]) -> None:
        """The sessions in progress now (their progress so far): active counts and their capacity so far."""
        for row in self.models.values():
            row.active = 0
            row.open_capacity = {}
            row.open_cost_usd = 0.0
            row.open_warned = 0
        for session in sessions:
            self.replace_open(None, session)

    def replace_open(self, old: SessionRecord | None, new: SessionRecord | None) -> None:
        """One open session's progress moved on (``old`` → ``new``), began (no ``old``) or ended (no ``new``): the
        master's live view follows each batch's changes, not every open session once a second per worker."""
        if old is not None:
            row = self._model(old.model, old.arm)
            row.active -= 1
            row.open_cost_usd -= old.estimated_cost_usd
            row.open_warned -= old.warning_turn is not None
            _count_capacity(row.open_capacity, old.capacity_to_silent_failure_s, old.silent_censored, by=-1)
        if new is not None:
            row = self._model(new.model, new.arm)
            row.active += 1
            row.open_cost_usd += new.estimated_cost_usd
            row.open_warned += new.warning_turn is not None
            _count_capacity(row.open_capacity, new.capacity_to_silent_failure_s, new.silent_censored)

    # --- what the web UI shows ------------------------------------------------------------------------

    def table_rows(self) -> list[dict[str, Any]]:
        """The seed-style table, live: one row per model, cells as display strings."""
        rows = []
        for model in sorted(self.models):
            row = self.models[model]
            median = row.survival().median()
            p50, p95 = row.turn_audio.quantile(0.5), row.turn_audio.quantile(0.95)
            ttfa50, ttfa95 = row.ttfa.quantile(0.5), row.ttfa.quantile(0.95)
            rows.append(
                {
                    "model": model,
                    "active": row.active,
                    "sessions": row.sessions,
                    "turns": f"{row.turns_ok} ok, {row.turns_failed} failed",
                    "median_turn_audio": "—" if p50 is None else f"{p50:.1f} s",
                    "p95_turn_audio": "—" if p95 is None else f"{p95:.1f} s",
                    "audio_minutes": f"{row.audio_s / 60:.2f} min",
                    "capacity": "not reached (censored)" if median is None else f"{median / 60:.2f} min",
                    "silent_failures": f"{row.silent_failure_sessions} / {row.sessions}",
                    "unsolicited": str(row.unsolicited),
                    "warnings": str(row.warned + row.open_warned),
                    "cost": f"{row.cost_usd + row.open_cost_usd:.4f} USD",
                    "ttfa": "—" if ttfa50 is None or ttfa95 is None else f"{ttfa50:.0f} / {ttfa95:.0f} ms",
                }
            )
        return rows

    def taxonomy_rows(self) -> list[dict[str, Any]]:
        return [
            {"code": code, "silent": "silent" if code in _SILENT_CODES else "visible", "count": count}
            for code, count in self.taxonomy.most_common()
        ]

    def survival_rows(self) -> dict[str, list[tuple[float, int, int]]]:
        """Per model, ``(capacity minutes, events, censored)`` counts: the input of the survival plot."""
        return {
            model: [(t / 60, d, c) for t, d, c in row.capacity_rows()] for model, row in sorted(self.models.items())
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything above as JSON-safe data (the ``/s2s/live.json`` route)."""
        return {
            "models": self.table_rows(),
            "taxonomy": self.taxonomy_rows(),
            "timeline": {"bucket_s": self.timeline.width_s, "rows": self.timeline.rows()},
            "survival": {
                model: {
                    "minutes": [t / 60 for t in curve.times],
                    "survival": list(curve.survival),
                    "median_minutes": None if (m := curve.median()) is None else m / 60,
                    # where the curve ends: the longest session so far (often a censored one, past the last drop)
                    "end_minutes": max((t for t, _, _ in row.capacity_rows()), default=0.0) / 60,
                }
                for model, row, curve in ((m, row, row.survival()) for m, row in sorted(self.models.items()))
            },
            "lost_sessions": self.lost_sessions,
            "pacing": self._pacing_snapshot(),
        }

    def _pacing_snapshot(self) -> dict[str, Any]:
        run, workers = self.pacing_figures()
        return {
            "late_p99_ms": LATE_P99_MS,
            "run": asdict(run) | {"late": run.late},
            "workers": {worker: asdict(figures) | {"late": figures.late} for worker, figures in workers},
        }
