"""CI gates: thresholds over a report; each gate is checked per model and says what was measured."""

from __future__ import annotations

from dataclasses import dataclass

from s2s_users.core.reporting.summary import ModelRow, Report


@dataclass(frozen=True, slots=True)
class Gates:
    """``None`` disables a gate."""

    silent_failure_rate: float | None = None
    min_capacity_minutes: float | None = None
    ttfa_p95_ms: float | None = None

    @property
    def given(self) -> bool:
        limits = (self.silent_failure_rate, self.min_capacity_minutes, self.ttfa_p95_ms)
        return any(limit is not None for limit in limits)


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate for one model: ``reason`` says what failed (None: passed, ``measured`` says what was seen)."""

    model: str
    flag: str
    threshold: float
    measured: str
    reason: str | None

    @property
    def passed(self) -> bool:
        return self.reason is None

    @property
    def name(self) -> str:
        return f"{self.model}: {self.flag} {self.threshold:g}"


def _silent_rate(row: ModelRow, limit: float) -> GateResult:
    flag = "--check-silent-failure-rate"
    rate = row.silent_failure_sessions / row.sessions if row.sessions else 0.0
    measured = f"silent failure rate {rate:.2f} ({row.silent_failure_sessions}/{row.sessions} sessions)"
    reason = f"{row.model}: {measured} is above {flag} {limit:g}" if row.sessions and rate > limit else None
    return GateResult(row.model, flag, limit, measured, reason)


def _capacity(row: ModelRow, minimum: float) -> GateResult:
    flag = "--check-min-capacity-minutes"
    if row.silent_capacity_median_s is None:
        return GateResult(row.model, flag, minimum, "median capacity to silent failure not reached (censored)", None)
    minutes = row.silent_capacity_median_s / 60
    measured = f"median capacity to silent failure {minutes:.2f} min"
    reason = f"{row.model}: {measured} is below {flag} {minimum:g}" if minutes < minimum else None
    return GateResult(row.model, flag, minimum, measured, reason)


def _ttfa(row: ModelRow, limit: float) -> GateResult:
    flag = "--check-ttfa-p95-ms"
    if row.ttfa_p95_ms is None:
        return GateResult(row.model, flag, limit, "no TTFA measured", None)
    measured = f"TTFA p95 {row.ttfa_p95_ms:.0f} ms"
    reason = f"{row.model}: {measured} is above {flag} {limit:g}" if row.ttfa_p95_ms > limit else None
    return GateResult(row.model, flag, limit, measured, reason)


def gate_results(report: Report, gates: Gates) -> list[GateResult]:
    """Every given gate for every model, passed or not."""
    results: list[GateResult] = []
    for row in report.models:
        if gates.silent_failure_rate is not None:
            results.append(_silent_rate(row, gates.silent_failure_rate))
        if gates.min_capacity_minutes is not None:
            results.append(_capacity(row, gates.min_capacity_minutes))
        if gates.ttfa_p95_ms is not None:
            results.append(_ttfa(row, gates.ttfa_p95_ms))
    return results


def budget_result(limit_usd: float, spent_usd: float, reason: str | None) -> GateResult:
    """``--max-cost`` as a gate of the whole run: failed when the budget stopped the run early."""
    return GateResult(
        model="(run)", flag="--max-cost", threshold=limit_usd, measured=f"{spent_usd:.4f} USD", reason=reason
    )


def check_gates(report: Report, gates: Gates) -> list[str]:
    """Return one reason per model and gate that failed (empty: all passed)."""
    return [result.reason for result in gate_results(report, gates) if result.reason is not None]
