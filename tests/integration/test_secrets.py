"""Secrets stay on the server: marker keys planted every way a key can arrive, then every output searched.

Ways in: environment variables (``S2S_API_KEY``, ``OPENAI_API_KEY``, ``GEMINI_API_KEY``, ``AZURE_OPENAI_AD_TOKEN``),
a ``locust.conf`` (the InfluxDB token), the command line (``--s2s-api-key``, ``--azure-ad-token``), a Gemini URL's
``?key=``, and the web UI's start form. Outputs searched: the web UI's HTML and JSON
(form, stats, live view, Locust's own report and CSVs), the process's whole log at DEBUG level, every file of the
report folder (records, reports, truth logs, spools), Locust's ``--html``/``--csv``/``--json`` files, and every
point in InfluxDB. The keys are really used: a real mock server accepts only the planted key, and a real InfluxDB
only the planted token, so a run that did not use them would show it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from s2s_users.core.protocols.gemini_wire import path as gemini_path
from s2s_users.io.mockserver import MockServerProcess
from tests.integration.conftest import LOCUST, LOCUSTFILE, ROOT
from tests.support.influx import InfluxDatabase
from tests.support.webui import CHROMIUM, WebUI, web_ui

GEMINI_PATH = gemini_path()
WEB_PAGES = (
    "/", "/stats/requests", "/s2s/live.json", "/s2s/live", "/exceptions",
    "/stats/report", "/stats/requests/csv", "/stats/failures/csv", "/exceptions/csv",
)  # fmt: skip


def marker(name: str) -> str:
    return f"S2SMARKER{name}{secrets.token_hex(6)}"


def files_text(folder: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path, path.read_bytes().decode("utf-8", "replace")


def assert_no_marker(markers: Iterable[str], places: Iterable[tuple[object, str]]) -> int:
    """Search every place for every marker; returns how many places were searched (so none can be skipped)."""
    searched = 0
    for where, text in places:
        searched += 1
        for value in markers:
            assert value not in text, f"a secret reached {where}"
    return searched


@pytest.fixture
def mock_accepting() -> Iterator[Any]:
    started: list[MockServerProcess] = []

    def start(key: str) -> MockServerProcess:
        mock = MockServerProcess(time_scale=20, api_key=key).start()
        started.append(mock)
        return mock

    yield start
    for mock in started:
        mock.stop()


def _open_form(page: Page) -> None:
    page.reload()
    page.get_by_role("button", name=re.compile("^(new|start)$", re.I)).first.wait_for()
    new_test = page.get_by_role("button", name=re.compile("^new$", re.I))
    if new_test.count():  # a test ran before: the form opens from the "New" button
        new_test.first.click()
    page.get_by_text("Custom parameters").click()


def _start_from_form(page: Page, fields: dict[str, str]) -> None:
    _open_form(page)
    for name, value in fields.items():
        page.locator(f"[name={name}]").fill(value)
    page.get_by_role("button", name=re.compile("^start$", re.I)).first.click()


def _sessions(report_dir: Path) -> list[dict[str, Any]]:
    path = report_dir / "sessions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _run_until(ui: WebUI, page: Page, report_dir: Path, sessions: int) -> None:
    deadline = time.monotonic() + 90
    while len(_sessions(report_dir)) < sessions:
        assert time.monotonic() < deadline, ui.log_text()[-3000:]
        time.sleep(0.5)
    page.get_by_role("button", name=re.compile("^stop$", re.I)).first.click()
    reports = ui.log_text().count("s2s: report in")
    deadline = time.monotonic() + 60
    while ui.log_text().count("s2s: report in") == reports:
        assert time.monotonic() < deadline, ui.log_text()[-3000:]
        time.sleep(0.3)


def test_keys_from_env_conf_and_form_never_reach_the_browser_logs_files_or_influxdb(
    tmp_path: Path, influx: InfluxDatabase, mock_accepting: Any
) -> None:
    env_key, openai_key, form_key, token_password = marker("ENV"), marker("OPENAI"), marker("FORM"), marker("CONF")
    mock = mock_accepting(env_key)
    token = influx.service.create_user("s2smarker", token_password)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    (workdir / "locust.conf").write_text(f"influx-token = {token}\n")
    report_dir = tmp_path / "run"
    pages: list[tuple[object, str]] = []

    with web_ui(
        tmp_path,
        "--processes", "2", "-u", "4", "-r", "4", "--loglevel", "DEBUG",
        "--s2s-url", mock.url, "--influx-url", influx.url, "--influx-bucket", influx.name,
        "--s2s-pace", "20", "--think-time", "0.05", "--chunk-ms", "100", "--report-dir", str(report_dir),
        env={"S2S_API_KEY": env_key, "OPENAI_API_KEY": openai_key}, cwd=workdir,
    ) as ui, sync_playwright() as playwright:  # fmt: skip
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(ui.url)
        assert page.locator("[name=s2sApiKey]").input_value() == ""
        assert page.locator("[name=influxToken]").input_value() == ""
        pages.append(("the rendered start form", page.content()))

        # Secret fields left empty: the server's own key and token are used (the mock accepts only those).
        _start_from_form(page, {"turns": "2"})
        _run_until(ui, page, report_dir, 6)
        used_server_key = _sessions(report_dir)
        assert sum(s["turns_completed"] for s in used_server_key) > 0

        # A key typed in the form is used: the mock refuses it, so the preflight refuses the start with one line;
        # the key is not shown again.
        _start_from_form(page, {"turns": "2", "s2sApiKey": form_key})
        page.get_by_text(re.compile("401 Unauthorized: the API key was refused")).wait_for(timeout=30_000)
        pages.append(("the start form refused", page.content()))
        assert len(_sessions(report_dir)) == len(used_server_key)
        _open_form(page)
        assert page.locator("[name=s2sApiKey]").input_value() == ""
        pages.append(("the start form after a typed key", page.content()))
        pages += [(f"GET {path}", ui.get(path)) for path in WEB_PAGES]
        browser.close()
    log = ui.log_text()

    assert "DEBUG" in log and "401 Unauthorized" in log  # the log was verbose, and the refusal was logged
    assert influx.query_count("s2s_session", "duration_s") >= len(used_server_key)  # the token worked
    markers = (env_key, openai_key, form_key, token_password)
    searched = assert_no_marker(
        markers,
        [*pages, ("the log", log), ("InfluxDB", influx.dump()), *files_text(report_dir)],
    )
    assert searched >= len(WEB_PAGES) + 6


def test_a_key_on_the_command_line_stays_out_of_logs_records_and_locusts_own_reports(
    tmp_path: Path, mock_accepting: Any
) -> None:
    cli_key = marker("CLI")
    mock = mock_accepting(cli_key)
    out = tmp_path / "locust-out"
    out.mkdir()
    report_dir = tmp_path / "run"
    process = subprocess.run(
        [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "-u", "2", "-r", "2", "--sessions-per-user", "1",
         "--turns", "3", "--s2s-pace", "20", "--think-time", "0.05", "--chunk-ms", "100", "--run-time", "2m",
         "--loglevel", "DEBUG", "--s2s-url", mock.url, "--s2s-api-key", cli_key, "--report-dir", str(report_dir),
         "--html", str(out / "locust.html"), "--csv", str(out / "locust"), "--json-file", str(out / "locust")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    sessions = _sessions(report_dir)
    assert len(sessions) == 2 and all(s["turns_completed"] == 3 for s in sessions), process.stderr[-3000:]
    searched = assert_no_marker(
        [cli_key],
        [("stdout", process.stdout), ("stderr", process.stderr), *files_text(report_dir), *files_text(out)],
    )
    assert searched >= 8


def test_a_start_up_error_does_not_repeat_the_key(tmp_path: Path) -> None:
    key = marker("BADURL")
    process = subprocess.run(
        [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--s2s-url", f"https://example.invalid/?api_key={key}",
         "--s2s-api-key", key, "--report-dir", str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert process.returncode == 2
    assert "is not a WebSocket URL" in process.stderr
    assert key not in process.stdout + process.stderr


@pytest.mark.parametrize(
    ("how", "path", "env", "args", "mock_kwargs"),
    [
        ("gemini key from GEMINI_API_KEY", GEMINI_PATH, {"GEMINI_API_KEY": "{key}"}, [], {"api_key": "{key}"}),
        ("gemini key in the URL's ?key=", GEMINI_PATH + "?key={key}", {}, [], {"api_key": "{key}"}),
        ("Entra token from --azure-ad-token", "/openai/v1/realtime", {}, ["--azure-ad-token", "{key}"],
         {"entra_token": "{key}"}),
        ("Entra token from AZURE_OPENAI_AD_TOKEN", "/voice-live/realtime", {"AZURE_OPENAI_AD_TOKEN": "{key}"}, [],
         {"entra_token": "{key}"}),
    ],
    ids=["gemini-env", "gemini-url", "entra-option", "entra-env"],
)  # fmt: skip
def test_gemini_keys_and_entra_tokens_stay_out_of_logs_records_and_reports(
    tmp_path: Path, how: str, path: str, env: dict[str, str], args: list[str], mock_kwargs: dict[str, str]
) -> None:
    secret = marker("PROVIDER")
    fill = {name: value.format(key=secret) for name, value in mock_kwargs.items()}
    out = tmp_path / "locust-out"
    out.mkdir()
    report_dir = tmp_path / "run"
    with MockServerProcess(time_scale=20, **{"api_key": "other-key", **fill}) as mock:  # type: ignore[arg-type]
        process = subprocess.run(
            [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "-u", "2", "-r", "2", "--sessions-per-user", "1",
             "--turns", "2", "--s2s-pace", "20", "--think-time", "0.05", "--chunk-ms", "100", "--run-time", "2m",
             "--loglevel", "DEBUG", "--s2s-url", mock.url_for(path.format(key=secret)), "--s2s-model",
             "gpt-realtime", *(a.format(key=secret) for a in args), "--report-dir", str(report_dir),
             "--html", str(out / "locust.html"), "--csv", str(out / "locust"), "--json-file", str(out / "locust")],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
            env={**os.environ, "GEMINI_API_KEY": "", "AZURE_OPENAI_API_KEY": "",
                 **{name: value.format(key=secret) for name, value in env.items()}},
        )  # fmt: skip
    sessions = _sessions(report_dir)
    # The secret was really used: the mock accepts nothing else.
    assert len(sessions) == 2 and all(s["turns_completed"] == 2 for s in sessions), process.stderr[-3000:]
    assert {s["provider"] for s in sessions} == {"gemini" if "gemini" in how else "azure"}
    searched = assert_no_marker(
        [secret],
        [("stdout", process.stdout), ("stderr", process.stderr), *files_text(report_dir), *files_text(out)],
    )
    assert searched >= 8
    if "?key=" in how:  # the URL is shown (the log's target line), with its key masked
        assert "key=***" in process.stderr
