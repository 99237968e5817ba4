"""From session records to the numbers of the report: seed-style table, taxonomy counts, turn budgets."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from s2s_users.core.failures import EXPLANATIONS, NOT_FAILURES, SILENT, FailureClass, FailureKind, kind_of
from s2s_users.core.metrics.lag import LagHistogram, merged
from s2s_users.core.metrics.records import OK, SessionOutcome, SessionRecord
from s2s_users.core.metrics.survival import kaplan_meier
from s2s_users.core.reporting.mitigation import ArmRow, CostRow, WarningRow, arm_rows, cost_rows, warning_rows

BUDGET_SECONDS = (3, 5, 8, 10, 15, 20, 30)


class CapacityBasis(enum.StrEnum):
    """What a model's capacity to silent failure rests on."""

    MEASURED = "measured"
    """Silent failures were observed: the Kaplan–Meier median is reached."""
    LOWER_BOUND = "lower bound"
    """Too few sessions failed silently (all censored, or fewer than half): the capacity is more than this."""


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def is_failure_outcome(outcome: str) -> bool:
    """True for a turn outcome that counts against the service (``"ok"`` and harness or cap ends do not)."""
    return kind_of(outcome) is not FailureKind.NONE


@dataclass(frozen=True, slots=True)
class ModelRow:
    model: str
    sessions: int
    turns_completed: int
    turns_planned: int
    best_session_turns: int
    median_turn_audio_s: float | None
    p95_turn_audio_s: float | None
    total_audio_min: float
    silent_capacity_median_s: float | None
    silent_capacity_ci: tuple[float | None, float | None]
    failure_capacity_median_s: float | None
    silent_failure_sessions: int
    median_silent_failure_turn: float | None
    ttfa_p50_ms: float | None
    ttfa_p95_ms: float | None
    cost_usd: float
    turns_failed: int
    failed_sessions: int
    censored_sessions: int
    lost_sessions: int
    unsolicited_responses: int = 0
    silent_capacity_lower_bound_s: float = 0.0
    """Every session's capacity is at least what it reached (censored or not), so their median is a lower bound
    of the median capacity: what a model without a measured boundary is known to hold."""
    bounded_sessions: int = 0
    """Sessions of ``--turns until-failure`` that ended at a safety bound (censored)."""

    @property
    def capacity_basis(self) -> CapacityBasis:
        return CapacityBasis.LOWER_BOUND if self.silent_capacity_median_s is None else CapacityBasis.MEASURED


@dataclass(frozen=True, slots=True)
class TurnTakingRow:
    """How one model took turns in one turn mode: the latency a caller hears, and what the server did unasked."""

    model: str
    turn_mode: str
    turns: int
    ttfa_p50_ms: float | None
    ttfa_p95_ms: float | None
    audible_p50_ms: float | None
    audible_p95_ms: float | None
    endpointing_p50_ms: float | None
    endpointing_p95_ms: float | None
    unsolicited_responses: int
    unsolicited_reasons: dict[str, int]
    barge_ins: int
    stop_latency_p50_ms: float | None
    stop_latency_p95_ms: float | None
    barge_ins_ignored: int


@dataclass(frozen=True, slots=True)
class TaxonomyRow:
    code: str
    silent: bool
    counts_as_failure: bool
    turns: int
    first_failures: int
    session_ends: int
    explanation: str


@dataclass(frozen=True, slots=True)
class PacingRow:
    """How late one worker (or, as ``worker = "all"``, the whole run) sent its prompt chunks."""

    worker: str
    chunks: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    late: bool


ALL_WORKERS = "all"
#: Failed sessions listed one per row in the report (the first ones of the run; sessions.jsonl has them all).
FAILED_ROWS = 100


@dataclass(frozen=True, slots=True)
class FailedSessionRow:
    """One failed session, with the evidence kept of it (paths relative to the run folder)."""

    session_id: str
    model: str
    worker: str
    failure_class: str
    failure_turn: int | None
    capacity_s: float
    end_class: str | None
    evidence: tuple[str, ...]
    evidence_note: str | None


def failed_rows(records: Sequence[SessionRecord], limit: int = FAILED_ROWS) -> tuple[FailedSessionRow, ...]:
    failed = sorted((r for r in records if r.outcome == SessionOutcome.FAILED), key=lambda r: r.started_at)
    return tuple(
        FailedSessionRow(
            session_id=r.session_id,
            model=r.model,
            worker=r.worker,
            failure_class=str(r.failure_class),
            failure_turn=r.failure_turn,
            capacity_s=r.capacity_to_failure_s,
            end_class=None if r.end_class is None else str(r.end_class),
            evidence=r.evidence,
            evidence_note=r.evidence_note,
        )
        for r in failed[:limit]
    )


@dataclass(frozen=True, slots=True)
class Report:
    run_ids: tuple[str, ...]
    sessions: int
    models: tuple[ModelRow, ...]
    taxonomy: tuple[TaxonomyRow, ...]
    budgets: dict[str, tuple[tuple[int, int], ...]]
    turn_taking: tuple[TurnTakingRow, ...] = ()
    pacing: tuple[PacingRow, ...] = ()
    """The run first (``all``), then each worker; empty when the run folder has no pacing figures."""
    arms: tuple[ArmRow, ...] = ()
    """Per model and A/B arm, in runs that rotate sessions (``--rotate-after``, ``--ab-rotate-after``)."""
    warnings: tuple[WarningRow, ...] = ()
    """Every session that failed silently: what was visible before, and the early warning's lead."""
    costs: tuple[CostRow, ...] = ()

    @property
    def cost_usd(self) -> float:
        return sum(row.cost_usd for row in self.costs)

    failed: tuple[FailedSessionRow, ...] = ()
    """The first ``FAILED_ROWS`` failed sessions, with their evidence."""
    failed_sessions: int = 0

    @property
    def generator_late(self) -> bool:
        """The load generator could not keep its clock (chunk lag p99 above ``LATE_P99_MS``): do not trust it."""
        return any(row.late for row in self.pacing)

    @property
    def late_workers(self) -> tuple[str, ...]:
        return tuple(row.worker for row in self.pacing[1:] if row.late)


def _model_row(model: str, records: Sequence[SessionRecord]) -> ModelRow:
    ok_turns = [t for r in records for t in r.turns if t.outcome == OK and t.solicited]
    audio = [t.assistant_audio_s for t in ok_turns]
    ttfa = [t.ttfa_ms for t in ok_turns if t.ttfa_ms is not None]
    silent = kaplan_meier([r.capacity_to_silent_failure_s for r in records], [not r.silent_censored for r in records])
    any_failure = kaplan_meier([r.capacity_to_failure_s for r in records], [not r.censored for r in records])
    silent_turns = [float(r.silent_failure_turn) for r in records if r.silent_failure_turn is not None]
    return ModelRow(
        model=model,
        sessions=len(records),
        turns_completed=sum(r.turns_completed for r in records),
        turns_planned=sum(r.turns_planned for r in records),
        best_session_turns=max(r.turns_completed for r in records),
        median_turn_audio_s=percentile(audio, 50),
        p95_turn_audio_s=percentile(audio, 95),
        total_audio_min=sum(r.assistant_audio_s for r in records) / 60,
        silent_capacity_median_s=silent.median(),
        silent_capacity_ci=silent.median_ci(),
        failure_capacity_median_s=any_failure.median(),
        silent_failure_sessions=sum(r.silent_failure_turn is not None for r in records),
        median_silent_failure_turn=percentile(silent_turns, 50),
        ttfa_p50_ms=percentile(ttfa, 50),
        ttfa_p95_ms=percentile(ttfa, 95),
        cost_usd=sum(r.estimated_cost_usd for r in records),
        turns_failed=sum(is_failure_outcome(t.outcome) for r in records for t in r.turns),
        failed_sessions=sum(r.outcome == SessionOutcome.FAILED for r in records),
        censored_sessions=sum(r.silent_censored for r in records),
        lost_sessions=sum(r.end_class == FailureClass.WORKER_LOST for r in records),
        unsolicited_responses=sum(r.unsolicited_responses for r in records),
        silent_capacity_lower_bound_s=percentile([r.capacity_to_silent_failure_s for r in records], 50) or 0.0,
        bounded_sessions=sum(r.outcome == SessionOutcome.BOUNDED for r in records),
    )


def _present(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _turn_taking_row(model: str, turn_mode: str, records: Sequence[SessionRecord]) -> TurnTakingRow:
    ok = [t for r in records for t in r.turns if t.outcome == OK and t.solicited]
    barged = [t for r in records for t in r.turns if t.barge_in]
    stops = _present([t.stop_latency_ms for t in barged])
    reasons: dict[str, int] = {}
    for record in records:
        for reason, count in record.unsolicited_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    return TurnTakingRow(
        model=model,
        turn_mode=turn_mode,
        turns=len(ok),
        ttfa_p50_ms=percentile(_present([t.ttfa_ms for t in ok]), 50),
        ttfa_p95_ms=percentile(_present([t.ttfa_ms for t in ok]), 95),
        audible_p50_ms=percentile(_present([t.audible_ms for t in ok]), 50),
        audible_p95_ms=percentile(_present([t.audible_ms for t in ok]), 95),
        endpointing_p50_ms=percentile(_present([t.endpointing_ms for t in ok]), 50),
        endpointing_p95_ms=percentile(_present([t.endpointing_ms for t in ok]), 95),
        unsolicited_responses=sum(reasons.values()),
        unsolicited_reasons=dict(sorted(reasons.items())),
        barge_ins=len(barged),
        stop_latency_p50_ms=percentile(stops, 50),
        stop_latency_p95_ms=percentile(stops, 95),
        barge_ins_ignored=sum(t.outcome == FailureClass.BARGE_IN_IGNORED for t in barged),
    )


def _pacing_row(worker: str, histogram: LagHistogram) -> PacingRow:
    figures = histogram.figures()
    return PacingRow(worker, figures.chunks, figures.p50_ms, figures.p99_ms, figures.max_ms, figures.late)


def pacing_rows(pacing: Mapping[str, LagHistogram]) -> tuple[PacingRow, ...]:
    if not pacing:
        return ()
    run = _pacing_row(ALL_WORKERS, merged(pacing.values()))
    return (run, *(_pacing_row(worker, pacing[worker]) for worker in sorted(pacing)))


def build_report(records: Sequence[SessionRecord], pacing: Mapping[str, LagHistogram] | None = None) -> Report:
    """The report's numbers; ``pacing`` is each worker's chunk-lag histogram (``pacing.json``), when there is one."""
    by_model: dict[str, list[SessionRecord]] = {}
    for record in records:
        by_model.setdefault(record.model, []).append(record)
    rows = tuple(_model_row(model, by_model[model]) for model in sorted(by_model))
    taxonomy = tuple(
        TaxonomyRow(
            code=code.value,
            silent=code in SILENT,
            counts_as_failure=code not in NOT_FAILURES,
            turns=sum(t.outcome == code.value for r in records for t in r.turns),
            first_failures=sum(r.failure_class == code for r in records),
            session_ends=sum(r.end_class == code for r in records),
            explanation=EXPLANATIONS[code],
        )
        for code in FailureClass
    )
    budgets = {
        row.model: tuple((n, int(row.silent_capacity_median_s // n)) for n in BUDGET_SECONDS)
        for row in rows
        if row.silent_capacity_median_s is not None
    }
    by_mode: dict[tuple[str, str], list[SessionRecord]] = {}
    for record in records:
        by_mode.setdefault((record.model, record.turn_mode), []).append(record)
    turn_taking = tuple(_turn_taking_row(model, mode, by_mode[(model, mode)]) for model, mode in sorted(by_mode))
    return Report(
        run_ids=tuple(sorted({r.run_id for r in records})),
        sessions=len(records),
        models=rows,
        taxonomy=taxonomy,
        budgets=budgets,
        turn_taking=turn_taking,
        pacing=pacing_rows(pacing or {}),
        arms=arm_rows(records),
        warnings=warning_rows(records),
        costs=cost_rows(records),
        failed=failed_rows(records),
        failed_sessions=sum(r.outcome == SessionOutcome.FAILED for r in records),
    )


def report_to_dict(report: Report) -> dict[str, Any]:
    """JSON-safe: tuples become lists; no NaN or infinities are produced by build_report."""
    data = asdict(report)
    for row, model in zip(report.models, data["models"], strict=True):
        model["capacity_basis"] = str(row.capacity_basis)
    data["budgets"] = {
        model: [{"seconds_per_turn": n, "turns": t} for n, t in rows] for model, rows in report.budgets.items()
    }
    return data
