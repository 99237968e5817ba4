"""The gates as a JUnit XML file, the format every CI system shows as tests (one test case per model and gate).

The harness's own checks (lost sessions, exceptions, nothing measured) are one more test case, so a CI page shows
why a run exited 1 as well as why it exited 3.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from s2s_users.core.reporting.gates import GateResult

JUNIT_FILE = "junit.xml"
SUITE = "s2s_users gates"


def junit_xml(run_id: str, results: Sequence[GateResult], harness_problems: Sequence[str], duration_s: float) -> str:
    """A ``<testsuites>`` document: each gate result, then the harness check."""
    failures = sum(not r.passed for r in results) + (1 if harness_problems else 0)
    tests = len(results) + 1
    suites = ET.Element("testsuites", name=f"s2s_users run {run_id}", tests=str(tests), failures=str(failures))
    suite = ET.SubElement(
        suites, "testsuite", name=SUITE, tests=str(tests), failures=str(failures), errors="0",
        time=f"{duration_s:.3f}",
    )  # fmt: skip
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=f"s2s_users.gates.{result.model}", name=result.name)
        if result.reason is None:
            ET.SubElement(case, "system-out").text = result.measured
        else:
            ET.SubElement(case, "failure", message=result.reason, type=result.flag).text = result.reason
    harness = ET.SubElement(suite, "testcase", classname="s2s_users.harness", name="the load generator held up")
    if harness_problems:
        text = "; ".join(harness_problems)
        ET.SubElement(harness, "failure", message=text, type="harness").text = text
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
