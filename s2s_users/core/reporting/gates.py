"""CI gates: thresholds over a report; each failed gate is one line saying what was measured."""

from __future__ import annotations

from dataclasses import dataclass

from s2s_users.core.reporting.summary import Report


@dataclass(frozen=True, slots=True)
class Gates:
    """``None`` disables a gate."""

    silent_failure_rate: float | None = None
    min_capacity_minutes: float | None = None
    ttfa_p95_ms: float | None = None


def check_gates(report: Report, gates: Gates) -> list[str]:
    """Return one reason per model and gate that failed (empty: all passed)."""
    reasons: list[str] = []
    for row in report.models:
        if gates.silent_failure_rate is not None and row.sessions:
            rate = row.silent_failure_sessions / row.sessions
            if rate > gates.silent_failure_rate:
                reasons.append(
                    f"{row.model}: silent failure rate {rate:.2f} ({row.silent_failure_sessions}/{row.sessions} "
                    f"sessions) is above --check-silent-failure-rate {gates.silent_failure_rate:g}"
                )
        if gates.min_capacity_minutes is not None and row.silent_capacity_median_s is not None:
            minutes = row.silent_capacity_median_s / 60
            if minutes < gates.min_capacity_minutes:
                reasons.append(
                    f"{row.model}: median capacity to silent failure {minutes:.2f} min is below "
                    f"--check-min-capacity-minutes {gates.min_capacity_minutes:g}"
                )
        if gates.ttfa_p95_ms is not None and row.ttfa_p95_ms is not None and row.ttfa_p95_ms > gates.ttfa_p95_ms:
            reasons.append(
                f"{row.model}: TTFA p95 {row.ttfa_p95_ms:.0f} ms is above --check-ttfa-p95-ms {gates.ttfa_p95_ms:g}"
            )
    return reasons
