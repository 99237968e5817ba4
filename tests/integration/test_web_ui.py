"""The web UI in a real headless Chromium: our options in the start form, and a live Sessions tab during a run.

The screenshot of the tab is left in the test's output folder (pytest's tmp_path; its path is printed).
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Frame, Page, sync_playwright

from tests.integration.conftest import LOCUST, LOCUSTFILE, ROOT
from tests.support.influx import find_binary, free_port

CHROMIUM = find_binary("chromium", "/usr/bin/chromium")


@pytest.fixture
def web_ui(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(LOCUST), "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1", "--web-port", str(port),
         "-u", "4", "-r", "4", "--sessions-per-user", "0", "--s2s-pace", "20", "--mock-time-scale", "20",
         "--think-time", "0.05", "--chunk-ms", "100", "--report-dir", str(tmp_path / "run")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(tmp_path / "locust.log").open("w"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the web UI did not come up: {(tmp_path / 'locust.log').read_text()[-2000:]}")
            time.sleep(0.3)
    yield url
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def _live_frame(page: Page) -> Frame:
    page.wait_for_selector("iframe#s2s-live", timeout=30_000)
    frame = page.frame_locator("iframe#s2s-live")
    frame.locator("#s2s-survival svg").wait_for(timeout=30_000)
    handle = page.query_selector("iframe#s2s-live")
    assert handle is not None
    content = handle.content_frame()
    assert content is not None
    return content


def _row_text(page: Page, model: str) -> str:
    return page.locator("tr", has=page.locator("td", has_text=re.compile(rf"^{re.escape(model)}$"))).inner_text()


def test_the_sessions_tab_shows_live_sessions_survival_and_failures(web_ui: str, tmp_path: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1800})
        page.goto(web_ui)

        # The product's options are in the start form; a user sets the turns there and starts the test.
        for name in ("s2sModel", "turns", "turnMode", "s2sPace", "checkMinCapacityMinutes"):
            assert page.locator(f"[name={name}]").count() == 1, name
        assert page.locator("[name=s2sApiKey]").get_attribute("type") == "password"
        page.get_by_text("Custom parameters").click()
        page.locator("[name=turns]").fill("60")
        page.get_by_role("button", name=re.compile("start", re.I)).first.click()

        page.get_by_role("tab", name="Sessions").click()
        page.wait_for_selector("text=Capacity to silent failure", timeout=30_000)
        page.locator("td", has_text=re.compile(r"^gpt-realtime-2$")).wait_for(timeout=30_000)
        first = _row_text(page, "gpt-realtime")

        # The seed's ceiling shows up live: gpt-realtime-2 reaches a median capacity near 5 minutes of audio.
        deadline = time.monotonic() + 120
        while "min" not in _row_text(page, "gpt-realtime-2").split("\t")[7] and time.monotonic() < deadline:
            page.wait_for_timeout(1000)
        failing = _row_text(page, "gpt-realtime-2").split("\t")
        assert re.fullmatch(r"[45]\.\d\d min", failing[7]), failing
        assert _row_text(page, "gpt-realtime") != first  # the table refreshed while the test ran

        frame = _live_frame(page)
        frame.locator("#s2s-taxonomy", has_text="response.zero_audio").wait_for(timeout=30_000)
        assert frame.locator("#s2s-survival svg").count() == 1
        assert "gpt-realtime-2" in frame.locator("#s2s-survival").inner_html()
        assert frame.locator("#s2s-timeline svg").count() == 1

        screenshot = tmp_path / "sessions-tab.png"
        page.screenshot(path=str(screenshot), full_page=True)
        print(f"screenshot: {screenshot}")
        assert screenshot.stat().st_size > 20_000
        browser.close()
