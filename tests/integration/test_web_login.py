"""``--web-login``: every page, Locust's and ours, behind one user and password from the environment.

Plain HTTP for what scripts see (401 without credentials, 200 with Basic credentials, nothing of an unauthenticated
start form applied), a headless Chromium for Locust's login page, and the password in no output.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.integration.conftest import LOCUST, LOCUSTFILE, ROOT
from tests.support.influx import free_port
from tests.support.webui import CHROMIUM, WebUI, web_ui

USER = "alice"
PASSWORD = "pw-WEB-LOGIN-MARKER-4f1c"
PAGES = ("/", "/s2s/live", "/s2s/live.json", "/stats/requests", "/s2s/static/live.html", "/stats/report")


def _status(ui: WebUI, path: str, credentials: tuple[str, str] | None = None, data: bytes | None = None) -> int:
    request = urllib.request.Request(ui.url + path, data=data)
    if credentials is not None:
        token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_web_login_protects_locusts_pages_and_ours_for_scripts_and_browsers(tmp_path: Path) -> None:
    report_dir = tmp_path / "run"
    env = {"S2S_WEB_USER": USER, "S2S_WEB_PASSWORD": PASSWORD}
    with web_ui(
        tmp_path, "--web-login", "-u", "1", "-r", "1", "--turns", "2", "--sessions-per-user", "1",
        "--s2s-pace", "20", "--mock-time-scale", "20", "--think-time", "0.05", "--chunk-ms", "100",
        "--report-dir", str(report_dir), env=env,
    ) as ui, sync_playwright() as playwright:  # fmt: skip
        for path in PAGES:
            assert _status(ui, path) == 401, path
            assert _status(ui, path, (USER, "wrong")) == 401, path
            assert _status(ui, path, (USER, PASSWORD)) == 200, path
        # An unauthenticated start is refused before anything of it is applied.
        form = b"user_count=1&spawn_rate=1&turns=7"
        assert _status(ui, "/swarm", data=form) == 401
        assert not (report_dir / "sessions.jsonl").exists()

        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(ui.url + "/s2s/live")
        page.wait_for_url(re.compile(r"/login"))  # a browser is sent to Locust's login page
        page.locator("[name=username]").fill(USER)
        page.locator("[name=password]").fill("wrong")
        page.locator("button[type=submit]").click()
        page.get_by_text("Invalid username or password").wait_for(timeout=10_000)
        page.locator("[name=username]").fill(USER)
        page.locator("[name=password]").fill(PASSWORD)
        page.locator("button[type=submit]").click()
        page.get_by_role("button", name=re.compile("^start$", re.I)).first.wait_for(timeout=15_000)
        page.get_by_role("button", name=re.compile("^start$", re.I)).first.click()  # signed in: the form works
        ui.wait_for_log("s2s: report in", timeout_s=90)
        response = page.goto(ui.url + "/s2s/live.json")
        assert response is not None and response.status == 200
        browser.close()
        log = ui.log_text()
    assert (report_dir / "report.html").is_file()
    assert PASSWORD not in log and "Traceback" not in log


def test_web_login_without_its_credentials_in_the_environment_stops_at_start_with_one_line(tmp_path: Path) -> None:
    process = subprocess.run(
        [str(LOCUST), "-f", str(LOCUSTFILE), "--web-login", "--web-host", "127.0.0.1", "--web-port", str(free_port()),
         "--report-dir", str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "S2S_WEB_USER": USER, "S2S_WEB_PASSWORD": ""},
    )  # fmt: skip
    assert process.returncode == 2
    errors = [line for line in (process.stdout + process.stderr).splitlines() if "error" in line.lower()]
    assert errors == [
        "error: --web-login needs S2S_WEB_USER and S2S_WEB_PASSWORD in the environment (the one user and password"
        " of the web UI; never on the command line)"
    ]
