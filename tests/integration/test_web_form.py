"""The start form in a real browser: a distributed run (master + 2 workers) started and stopped from the web UI.

Typed values apply with their types, empty fields keep the process's values (no gate, the run id minted at
start-up), a bad value is refused in the form with a one-line error, and the gates run when the test is stopped.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.support.webui import CHROMIUM, WebUI, web_ui


def _start(page: Page, fields: dict[str, str]) -> None:
    page.get_by_text("Custom parameters").click()
    for name, value in fields.items():
        page.locator(f"[name={name}]").fill(value)
    page.get_by_role("button", name=re.compile("^start$", re.I)).first.click()


def _run_id_in_form(ui: WebUI) -> str:
    match = re.search(r'"run_id": \{[^}]*"default_value": "([^"]+)"', ui.get("/"))
    assert match, "the start form shows the run id"
    return match.group(1)


def test_a_run_started_and_stopped_from_the_form_uses_typed_values_one_run_id_and_the_gates(tmp_path: Path) -> None:
    report_dir = tmp_path / "run"
    with web_ui(
        tmp_path,
        "--processes", "2", "-u", "4", "-r", "4", "--s2s-pace", "20", "--mock-time-scale", "20",
        "--think-time", "0.05", "--chunk-ms", "100", "--report-dir", str(report_dir),
    ) as ui, sync_playwright() as playwright:  # fmt: skip
        run_id = _run_id_in_form(ui)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(ui.url)

        # A value the command line would refuse is refused in the form, with the same one-line error.
        _start(page, {"turns": "three"})
        page.get_by_text("error: --turns 'three' is not a whole number").wait_for(timeout=10_000)
        assert not (report_dir / "sessions.jsonl").exists()

        # Typed: 3 turns and a TTFA gate that must fail; left empty: the other gates and the run id.
        page.locator("[name=turns]").fill("3")
        page.locator("[name=checkTtfaP95Ms]").fill("1")
        page.locator("[name=runId]").fill("")
        page.get_by_role("button", name=re.compile("^start$", re.I)).first.click()

        deadline = time.monotonic() + 90
        while (
            not (report_dir / "sessions.jsonl").exists()
            or len((report_dir / "sessions.jsonl").read_text().splitlines()) < 8
        ):
            assert time.monotonic() < deadline, ui.log_text()[-3000:]
            time.sleep(0.5)
        page.get_by_role("button", name=re.compile("^stop$", re.I)).first.click()
        ui.wait_for_log("s2s: report in", timeout_s=60)
        log = ui.log_text()
        browser.close()

    sessions = [json.loads(line) for line in (report_dir / "sessions.jsonl").read_text().splitlines()]
    assert {s["run_id"] for s in sessions} == {run_id}
    assert {s["worker"] for s in sessions} == {"worker-0", "worker-1"}
    assert {s["turns_planned"] for s in sessions} == {3}
    assert "Traceback" not in log and "TypeError" not in log
    # The typed gate ran (and failed); the empty ones were no gates at all.
    gate_lines = [line for line in log.splitlines() if "s2s: gate failed" in line]
    assert gate_lines and all("--check-ttfa-p95-ms 1" in line for line in gate_lines), gate_lines
    assert json.loads((report_dir / "report.json").read_text())["sessions"] == len(sessions)
