"""Bad input, as a user would type it, with the real ``locust`` command: each stops the run at start-up with exit
code 2 and exactly one line naming the fix, no traceback, and no key in the output.

The target's answers (unreachable, DNS, TLS, 401, 404) come from the preflight: one handshake with ``--s2s-url``
before any user starts, against a real standalone mock (or nothing at all). A 429 there is a warning, not a
refusal: rate limits are what a load test meets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from s2s_users.io.mockserver import MockServerProcess
from tests.integration.conftest import private_master_port, run_locust
from tests.integration.test_endurance_run import FAST
from tests.support.influx import free_port
from tests.support.webui import CHROMIUM, web_ui

KEY = "sk-bad-input-right-key-0123456789"
WRONG_KEY = "sk-bad-input-wrong-key-9876543210"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServerProcess]:
    with MockServerProcess(time_scale=20, api_key=KEY) as server:
        yield server


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _prompts_empty(folder: Path) -> list[str]:
    (folder / "empty").mkdir()
    return ["--prompts", str(folder / "empty")]


def _prompts_a_file(folder: Path) -> list[str]:
    (folder / "prompt.wav").write_bytes(b"RIFF")
    return ["--prompts", str(folder / "prompt.wav")]


def _prompts_unreadable(folder: Path) -> list[str]:
    (folder / "unreadable" / "manifest.json").mkdir(parents=True)  # reading it fails, even as root
    return ["--prompts", str(folder / "unreadable")]


def _prompt_wrong_format(folder: Path) -> list[str]:
    (folder / "wrong").mkdir()
    (folder / "wrong" / "hello.wav").write_text("this is text, not audio\n")
    return ["--prompts", str(folder / "wrong")]


def _scenario_malformed(folder: Path) -> list[str]:
    (folder / "scenario.toml").write_text("[models.gpt-realtime\nceiling_s = \n")
    return ["--mock-scenario", str(folder / "scenario.toml")]


def _scenario_bad_value(folder: Path) -> list[str]:
    (folder / "scenario.toml").write_text('[models.gpt-realtime]\nfaults = { zero_audio = "often" }\n')
    return ["--mock-scenario", str(folder / "scenario.toml")]


def _prices_malformed(folder: Path) -> list[str]:
    (folder / "prices.toml").write_text('[gpt-realtime]\naudio_in = "cheap"\n')
    return ["--prices", str(folder / "prices.toml")]


def _closed_port(_: Path) -> list[str]:
    return ["--s2s-url", f"ws://127.0.0.1:{free_port()}/v1/realtime"]


CASES: dict[str, tuple[Any, str]] = {
    # unknown option values
    "pace": (["--s2s-pace", "fast"], "error: --s2s-pace 'fast' is not valid: use realtime, burst"),
    "turn-mode": (["--turn-mode", "sometimes"], "error: --turn-mode 'sometimes' is not valid: use manual"),
    "protocol": (["--s2s-protocol", "soap"], "argument --s2s-protocol: invalid choice: 'soap'"),
    "turns-0": (["--turns", "0"], "error: --turns 0 is out of range"),
    "turns-text": (["--turns", "three"], "argument --turns: 'three' is not a whole number or until-failure"),
    "not-websocket": (["--s2s-url", "https://127.0.0.1/v1/realtime"], "is not a WebSocket URL"),
    # the target, at the preflight
    "unreachable": (_closed_port, "connection refused: is the server running and the port right?"),
    "dns": (["--s2s-url", "ws://no-such-host.invalid/v1/realtime"], "the host name does not resolve"),
    "tls": ("wss://{mock}/v1/realtime", "TLS failed: check wss:// against ws:// and the port"),
    "401": ("ws://{mock}/v1/realtime|wrong-key", "401 Unauthorized: the API key was refused: check S2S_API_KEY"),
    "404-path": ("ws://{mock}/v2/nothing", "404 Not Found: no realtime endpoint or model there"),
    "404-model": ("ws://{mock}/v1/realtime|model:gpt-nonexistent", "404 Not Found"),
    # prompts and scenarios
    "prompts-missing": (["--prompts", "/nonexistent/prompts"], "prompt folder /nonexistent/prompts does not exist"),
    "prompts-empty": (_prompts_empty, "has no WAV/FLAC/OGG files"),
    "prompts-a-file": (_prompts_a_file, "is a file, not a folder"),
    "prompts-unreadable": (_prompts_unreadable, "cannot read prompts in"),
    "prompt-wrong-format": (_prompt_wrong_format, "cannot read prompt audio"),
    "scenario-malformed": (_scenario_malformed, "does not parse"),
    "scenario-bad-value": (_scenario_bad_value, "faults.zero_audio must be a probability between 0 and 1"),
    # the price table and the budget
    "prices-malformed": (_prices_malformed, "'gpt-realtime': missing audio_cached"),
    "prices-missing": (["--prices", "/nonexistent/prices.toml"], "--prices /nonexistent/prices.toml: cannot be read"),
    "max-cost-0": (["--max-cost", "0"], "--max-cost 0 is out of range"),
}


def _args(case: Any, folder: Path, mock: MockServerProcess) -> tuple[list[str], str]:
    """The case's options and the key to use."""
    if isinstance(case, list):
        return case, KEY
    if callable(case):
        return case(folder), KEY
    host = mock.url.split("/")[2]
    url, _, extra = str(case).format(mock=host).partition("|")
    args = ["--s2s-url", url]
    key = WRONG_KEY if extra == "wrong-key" else KEY
    if extra.startswith("model:"):
        args += ["--s2s-model", extra.removeprefix("model:")]
    return args, key


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_stops_the_run_at_start_with_exit_2_and_one_line(
    tmp_path: Path, mock: MockServerProcess, name: str
) -> None:
    case, message = CASES[name]
    args, key = _args(case, tmp_path, mock)
    run = run_locust(
        tmp_path / "run", "-u", "1", "-r", "1", "--run-time", "20s", *FAST, *args, timeout=90,
        env={"S2S_API_KEY": key, "OPENAI_API_KEY": ""},
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 2, output[-3000:]
    error_lines = [line for line in output.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1, error_lines
    assert message in error_lines[0], error_lines
    assert "Traceback" not in output
    assert KEY not in output and WRONG_KEY not in output
    assert not (run.report_dir / "sessions.jsonl").exists()  # no user ever started


def test_bad_prompts_under_processes_stop_the_master_too_with_exit_2_and_no_report(tmp_path: Path) -> None:
    """With --processes the workers are forked before any check: each stops with the line, and the master, which
    checks the prompts itself, stops with exit code 2 instead of ending a run whose workers went missing."""
    run = run_locust(
        tmp_path / "run", "--processes", "2", *private_master_port(), "-u", "2", "-r", "2", "--run-time", "20s",
        *FAST, "--prompts", "/nonexistent/prompts", timeout=90,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 2, output[-3000:]
    lines = {line for line in output.splitlines() if "error" in line.lower()}  # the same line from each process
    assert len(lines) == 1, output[-3000:]
    (line,) = lines
    assert "prompt folder /nonexistent/prompts does not exist" in line
    assert "Traceback" not in output
    assert not (run.report_dir / "sessions.jsonl").exists()


def test_a_429_at_the_preflight_warns_and_the_run_goes_on(tmp_path: Path) -> None:
    scenario = tmp_path / "limited.toml"
    scenario.write_text("[models.gpt-realtime]\nreject = { 429 = 1.0 }\n")
    with MockServerProcess(time_scale=20, api_key=KEY, scenario=scenario) as limited:
        run = run_locust(
            tmp_path / "run", "-u", "1", "-r", "1", "--run-time", "3s", "--s2s-url", limited.url,
            "--s2s-model", "gpt-realtime", *FAST, timeout=90, env={"S2S_API_KEY": KEY, "OPENAI_API_KEY": ""},
        )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    warnings = [line for line in run.stderr.splitlines() if "s2s: preflight:" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0], warnings
    assert "429 Too Many Requests" in warnings[0] and "starting anyway" in warnings[0]
    sessions = run.sessions()
    assert sessions and {(s["end_class"], s["http_status"]) for s in sessions} == {("connect.rejected", 429)}
    assert (run.report_dir / "report.html").is_file()
    assert "preflight: --s2s-url" in (run.report_dir / "report.md").read_text()  # the report says so too
    assert "Traceback" not in run.stderr


def test_the_web_ui_refuses_a_start_whose_target_does_not_answer_and_starts_once_it_does(
    tmp_path: Path, mock: MockServerProcess
) -> None:
    closed = f"ws://127.0.0.1:{free_port()}/v1/realtime"
    report_dir = tmp_path / "run"
    with web_ui(
        tmp_path, "--s2s-url", closed, "-u", "1", "-r", "1", "--turns", "2", "--sessions-per-user", "1", *FAST,
        "--report-dir", str(report_dir), env={"S2S_API_KEY": KEY, "OPENAI_API_KEY": ""},
    ) as ui, sync_playwright() as playwright:  # fmt: skip
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(ui.url)
        page.get_by_role("button", name=re.compile("^start$", re.I)).first.click()
        refusal = f"error: --s2s-url {closed}: connection refused: is the server running and the port right?"
        page.get_by_text(refusal).wait_for(timeout=30_000)
        assert not (report_dir / "sessions.jsonl").exists()

        # The same form, pointed at a target that answers: the test starts.
        page.get_by_text("Custom parameters").click()
        page.locator("[name=s2sUrl]").fill(mock.url)
        page.get_by_role("button", name=re.compile("^start$", re.I)).first.click()
        ui.wait_for_log("s2s: preflight: --s2s-url", timeout_s=60)
        ui.wait_for_log("s2s: report in", timeout_s=90)
        log = ui.log_text()
        browser.close()
    assert "Traceback" not in log and KEY not in log
    assert [s["outcome"] for s in json_lines(report_dir / "sessions.jsonl")] == ["completed"]
