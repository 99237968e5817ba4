"""The gates as JUnit XML: one test case per model and gate, plus the harness; failures carry the reason."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from s2s_users.core.reporting.gates import Gates, gate_results
from s2s_users.core.reporting.junit import junit_xml
from s2s_users.core.reporting.summary import build_report
from tests.core.reporting.test_summary import seed_records


def test_each_model_and_gate_is_a_test_case_and_failures_say_why() -> None:
    results = gate_results(build_report(seed_records()), Gates(min_capacity_minutes=6, ttfa_p95_ms=10_000))
    root = ET.fromstring(junit_xml("run-1", results, [], 12.5))
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("time")) == ("5", "1", "12.500")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {
        "gpt-realtime: --check-min-capacity-minutes 6",
        "gpt-realtime-2: --check-min-capacity-minutes 6",
        "gpt-realtime: --check-ttfa-p95-ms 10000",
        "gpt-realtime-2: --check-ttfa-p95-ms 10000",
        "the load generator held up",
    }
    failure = cases["gpt-realtime-2: --check-min-capacity-minutes 6"].find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "gpt-realtime-2: median capacity to silent failure 5.00 min is below --check-min-capacity-minutes 6"
    )
    passed = cases["gpt-realtime: --check-min-capacity-minutes 6"]
    assert passed.find("failure") is None
    assert passed.findtext("system-out") == "median capacity to silent failure not reached (censored)"


def test_a_broken_harness_is_a_failing_test_case() -> None:
    root = ET.fromstring(junit_xml("run-1", [], ["2 sessions were lost with their worker"], 1.0))
    harness = root.find("testsuite/testcase[@name='the load generator held up']")
    assert harness is not None
    failure = harness.find("failure")
    assert failure is not None and failure.get("message") == "2 sessions were lost with their worker"
    assert root.get("failures") == "1"
