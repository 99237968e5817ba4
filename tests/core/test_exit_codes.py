"""The exit code table: a gated run is decided by its gates and the harness's health, never by failed turns."""

from __future__ import annotations

from s2s_users.core.exit_codes import ExitCode, RunHealth, verdict

HEALTHY = RunHealth(sessions=4, lost_sessions=0, user_exceptions=0)


def test_without_gates_locust_decides() -> None:
    assert verdict(False, [], HEALTHY, None) is None
    assert verdict(False, [], RunHealth(sessions=0, lost_sessions=3, user_exceptions=2), None) is None


def test_gates_passed_exit_0_and_a_failed_gate_exits_3_with_its_reason() -> None:
    passed = verdict(True, [], HEALTHY, None)
    assert passed is not None and passed.code == ExitCode.OK == 0
    failed = verdict(True, ["m: median capacity 5.00 min is below 6"], HEALTHY, None)
    assert failed is not None and failed.code == ExitCode.GATE_FAILED == 3
    assert failed.reasons == ("m: median capacity 5.00 min is below 6",)


def test_a_broken_harness_exits_1_even_when_gates_fail() -> None:
    lost = verdict(True, ["a gate"], RunHealth(sessions=4, lost_sessions=2, user_exceptions=0), 1)
    assert lost is not None and lost.code == ExitCode.HARNESS_BROKE == 1
    assert lost.reasons == ("2 sessions were lost with their worker, more than --max-lost-sessions 1",)
    within = verdict(True, [], RunHealth(sessions=4, lost_sessions=1, user_exceptions=0), 1)
    assert within is not None and within.code == ExitCode.OK
    crashed = verdict(True, [], RunHealth(sessions=4, lost_sessions=0, user_exceptions=3), None)
    assert crashed is not None and crashed.code == 1 and "3 unhandled exceptions" in crashed.reasons[0]
    nothing = verdict(True, [], RunHealth(sessions=0, lost_sessions=0, user_exceptions=0), None)
    assert (
        nothing is not None and nothing.code == 1 and nothing.reasons == ("no session finished: nothing was measured",)
    )
    greenlet = verdict(True, [], RunHealth(sessions=1, lost_sessions=0, user_exceptions=0, unhandled_errors=True), None)
    assert greenlet is not None and greenlet.code == 1


def test_records_or_a_report_that_could_not_be_written_exit_1_with_or_without_gates() -> None:
    full = RunHealth(sessions=4, lost_sessions=0, user_exceptions=0, write_errors=("report.html: No space left",))
    for gated in (True, False):
        decided = verdict(gated, ["a gate"] if gated else [], full, None)
        assert decided is not None and decided.code == ExitCode.HARNESS_BROKE
        assert decided.reasons == ("not written: report.html: No space left",)
    assert verdict(False, [], HEALTHY, None) is None  # otherwise Locust's own rule stays
