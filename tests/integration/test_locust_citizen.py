"""What a Locust user reads without our README: the request stats, the exit code, --json/--csv/--html, the Host,
a report's header and the gates' JUnit file; settings from the environment and from a config file.

Two real headless runs of the seed profile (the default models, one session each) are shared by the tests:
``--check-min-capacity-minutes 4`` must exit 0 although turns failed, and 6 must exit 3. Neither passes
``--exit-code-on-error``: the gates decide.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import LOCUST, LOCUSTFILE, ROOT, LocustRun
from tests.integration.test_endurance_run import FAST

TURN_TIMEOUT_MS = 30_000  # --turn-timeout's default
SEED = ["-u", "2", "-r", "2", "--sessions-per-user", "1", "--run-time", "4m", *FAST]


def locust(report_dir: Path, *args: str, env: dict[str, str] | None = None, locustfile: Path = LOCUSTFILE) -> LocustRun:
    process = subprocess.run(
        [str(LOCUST), "-f", str(locustfile), "--headless", "--only-summary", "--report-dir", str(report_dir), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )  # fmt: skip
    return LocustRun(process.returncode, process.stdout, process.stderr, report_dir)


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> LocustRun:
    """Gate and turns from S2S_* variables; Locust's --json on stdout, --csv and --html in files."""
    folder = tmp_path_factory.mktemp("passing")
    return locust(
        folder / "run", *SEED, "--json", "--csv", str(folder / "locust"), "--html", str(folder / "locust.html"),
        env={"S2S_CHECK_MIN_CAPACITY_MINUTES": "4", "S2S_TURNS": "40"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> LocustRun:
    """Gate and turns from a config file."""
    folder = tmp_path_factory.mktemp("failing")
    conf = folder / "soak.conf"
    conf.write_text("check-min-capacity-minutes = 6\nturns = 40\n")
    return locust(folder / "run", *SEED, "--config", str(conf))


def locust_json(stdout: str) -> list[dict[str, Any]]:
    lines = stdout.splitlines()
    start = lines.index("[")  # Locust prints its --json array last, after our report
    return list(json.loads("\n".join(lines[start:])))


def test_the_seed_profile_with_a_passing_gate_exits_0_though_turns_failed(passing: LocustRun) -> None:
    assert passing.returncode == 0, passing.stderr[-3000:]
    assert "s2s: exit code 0 (ok)" in passing.stderr and "gate failed" not in passing.stderr
    failed_turns = [t for s in passing.sessions() for t in s["turns"] if t["outcome"] != "ok"]
    assert failed_turns  # the seed's failure happened, and did not decide the exit code


def test_a_failing_gate_exits_3_with_one_line(failing: LocustRun) -> None:
    assert failing.returncode == 3, failing.stderr[-3000:]
    (gate,) = [line for line in failing.stderr.splitlines() if "s2s: gate failed" in line]
    assert "gpt-realtime-2: median capacity to silent failure" in gate and "--check-min-capacity-minutes 6" in gate
    assert {s["turns_planned"] for s in failing.sessions()} == {40}  # read from the config file


def test_locusts_json_has_one_turn_row_per_model_timed_by_ttfa(passing: LocustRun) -> None:
    rows = locust_json(passing.stdout)
    assert sorted((row["method"], row["name"]) for row in rows) == [
        ("turn", "gpt-realtime"),
        ("turn", "gpt-realtime-2"),
    ]
    assert all(row["max_response_time"] <= TURN_TIMEOUT_MS for row in rows)
    assert all(int(ms) <= TURN_TIMEOUT_MS for row in rows for ms in row["response_times"])
    turns = [t for s in passing.sessions() for t in s["turns"]]
    failed = [t for t in turns if t["outcome"] != "ok"]
    assert sum(row["num_requests"] for row in rows) == len(turns)
    assert sum(row["num_failures"] for row in rows) == len(failed)
    assert sum(row["num_none_requests"] for row in rows) == sum(t["ttfa_ms"] is None for t in turns)


def test_locusts_csv_and_html_show_the_same_rows_and_the_target_as_host(passing: LocustRun) -> None:
    folder = passing.report_dir.parent
    with (folder / "locust_stats.csv").open() as stats:
        rows = list(csv.DictReader(stats))
    assert [(r["Type"], r["Name"]) for r in rows] == [
        ("turn", "gpt-realtime"),
        ("turn", "gpt-realtime-2"),
        ("", "Aggregated"),
    ]
    assert all(float(r["Max Response Time"]) <= TURN_TIMEOUT_MS for r in rows)
    with (folder / "locust_failures.csv").open() as failures:
        errors = {row["Error"] for row in csv.DictReader(failures)}
    assert errors == {"response.zero_audio", "transport.closed_no_frame"}
    assert "ws://127.0.0.1:" in (folder / "locust.html").read_text()  # Host: the embedded mock's URL


def test_the_report_header_and_run_json_describe_the_run_without_secrets(passing: LocustRun) -> None:
    report = json.loads((passing.report_dir / "report.json").read_text())
    run = report["run"]
    assert run == json.loads((passing.report_dir / "run.json").read_text())
    assert run["started_at"] < run["ended_at"] and run["users"] == 2 and run["target"] == "embedded mock"
    assert run["options"]["turns"] == 40 and run["options"]["check_min_capacity_minutes"] == 4.0
    assert run["options"]["num_users"] == 2
    assert "s2s_api_key" not in run["options"] and "influx_token" not in run["options"]
    assert {"python", "s2s_users", "locust", "soxr"} <= set(run["versions"])
    assert run["health"]["pacing_lag_p95_ms"] is not None and run["health"]["lost_workers"] == 0
    assert "local" in run["health"]["cpu_max_percent"]
    markdown = (passing.report_dir / "report.md").read_text()
    assert "## The run" in markdown and "| Generator health | pacing lag p50" in markdown
    assert "Generator health" in (passing.report_dir / "report.html").read_text()


def test_the_gates_are_a_junit_file(passing: LocustRun, failing: LocustRun) -> None:
    ok = ET.parse(passing.report_dir / "junit.xml").getroot()
    assert ok.get("failures") == "0" and ok.get("tests") == "3"  # 2 models x 1 gate, and the harness
    bad = ET.parse(failing.report_dir / "junit.xml").getroot()
    failed = [case.get("name") for case in bad.iter("testcase") if case.find("failure") is not None]
    assert failed == ["gpt-realtime-2: --check-min-capacity-minutes 6"]


def test_compare_puts_the_two_runs_side_by_side(passing: LocustRun, failing: LocustRun, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(LOCUST.with_name("s2s-users")), "compare", str(passing.report_dir), str(failing.report_dir),
         "--out", str(tmp_path / "compare.html")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "gpt-realtime-2 (A)" in done.stdout and "gpt-realtime-2 (B)" in done.stdout
    assert 'id="survival-B: gpt-realtime-2"' in (tmp_path / "compare.html").read_text()


def test_weighted_models_from_the_list_and_as_user_classes(tmp_path: Path) -> None:
    common = ["-u", "4", "-r", "4", "--sessions-per-user", "1", "--turns", "2", "--run-time", "2m", *FAST]
    listed = locust(tmp_path / "listed", *common, "--s2s-model", "gpt-realtime:3,gpt-realtime-2:1")
    classes = locust(tmp_path / "classes", *common, locustfile=ROOT / "locustfiles" / "weighted.py")
    for run in (listed, classes):
        assert run.returncode == 0, run.stderr[-3000:]
        assert Counter(s["model"] for s in run.sessions()) == {"gpt-realtime": 3, "gpt-realtime-2": 1}


def test_a_ramp_and_hold_shape_runs_and_ends_by_itself(tmp_path: Path) -> None:
    run = locust(
        tmp_path / "run", "-u", "2", "-r", "1", "--shape", "ramp-and-hold", "--shape-ramp", "2", "--shape-hold", "5",
        "--turns", "400", "--s2s-model", "gpt-realtime", *FAST,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Shape test updating to 2 users at 1.00 spawn rate" in run.stderr
    sessions = run.sessions()
    assert len(sessions) == 2 and {s["outcome"] for s in sessions} == {"stopped"}
    assert json.loads((run.report_dir / "run.json").read_text())["users"] == 2
