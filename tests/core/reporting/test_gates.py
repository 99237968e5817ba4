"""CI gates over a report."""

from __future__ import annotations

from s2s_users.core.reporting.gates import Gates, check_gates
from s2s_users.core.reporting.summary import build_report
from tests.core.reporting.test_summary import seed_records


def test_no_gates_pass_everything() -> None:
    assert check_gates(build_report(seed_records()), Gates()) == []


def test_each_gate_names_the_model_and_the_threshold() -> None:
    report = build_report(seed_records())
    reasons = check_gates(report, Gates(silent_failure_rate=0, min_capacity_minutes=6, ttfa_p95_ms=100))
    assert "gpt-realtime-2: silent failure rate 1.00 (2/2 sessions) is above --check-silent-failure-rate 0" in reasons
    assert any(r.startswith("gpt-realtime-2: median capacity to silent failure 5.00 min") for r in reasons)
    assert sum("TTFA p95 420 ms is above --check-ttfa-p95-ms 100" in r for r in reasons) == 2
    assert not any(r.startswith("gpt-realtime: silent") for r in reasons)
