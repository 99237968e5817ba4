"""The web UI in a real headless Chromium: our options in the start form, the Host, a live Sessions tab, and the
live charts page drawn in the browser from /s2s/live.json (nothing else fetched), with Reset Stats and ETags.

Screenshots of the tab and of the charts are left in the test's output folder (pytest's tmp_path; paths printed).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

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


def _row_text(page: Page, model: str) -> str:
    return page.locator("tr", has=page.locator("td", has_text=re.compile(rf"^{re.escape(model)}$"))).inner_text()


def _live(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, object]]:
    request = urllib.request.Request(url + "/s2s/live.json", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("ETag", ""), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("ETag", ""), {}


def _turns_ok(snapshot: dict[str, object]) -> int:
    rows = snapshot["models"]
    assert isinstance(rows, list)
    return sum(int(str(row["turns"]).split(" ok")[0]) for row in rows)


def test_the_sessions_tab_and_the_live_charts_during_a_run(web_ui: str, tmp_path: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1800})
        page.goto(web_ui)

        # The product's options are in the start form; the Host field names the target (the embedded mock).
        for name in ("s2sModel", "turns", "turnMode", "s2sPace", "checkMinCapacityMinutes", "shape"):
            assert page.locator(f"[name={name}]").count() == 1, name
        assert page.locator("[name=s2sApiKey]").get_attribute("type") == "password"
        assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/v1/realtime", page.locator("[name=host]").input_value())
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
        tab_shot = tmp_path / "sessions-tab.png"
        page.screenshot(path=str(tab_shot), full_page=True)

        # Locust's Download Data tab links to the charts (Locust's extended_csv_files).
        page.get_by_role("tab", name=re.compile("download data", re.I)).click()
        link = page.get_by_role("link", name=re.compile("Sessions: live charts"))
        assert link.get_attribute("href") == "./s2s/live"

        # The charts are drawn in the browser, from live.json alone.
        charts = browser.new_page(viewport={"width": 1300, "height": 1400})
        fetched: list[str] = []
        charts.on("request", lambda request: fetched.append(request.url))
        charts.goto(web_ui + "/s2s/live")
        charts.locator("#s2s-survival path[data-model='gpt-realtime-2']").wait_for(timeout=30_000)
        charts.locator("#s2s-taxonomy td", has_text="response.zero_audio").wait_for(timeout=30_000)
        assert charts.locator("#s2s-timeline rect[data-code='response.zero_audio']").count() >= 1
        assert charts.locator("#s2s-models tbody tr").count() == 2
        assert charts.locator("#s2s-survival line[stroke-dasharray]").count() >= 1  # gpt-realtime-2's median
        charts.wait_for_timeout(3500)  # at least one more poll
        assert "Pacing lag per prompt chunk: p50" in charts.locator("#s2s-pacing").inner_text()
        charts_shot = tmp_path / "live-charts.png"
        charts.screenshot(path=str(charts_shot), full_page=True)
        assert {url.removeprefix(web_ui) for url in fetched} <= {"/s2s/live", "/s2s/live.json"}
        assert fetched.count(web_ui + "/s2s/live.json") >= 2

        # Reset Stats resets the Sessions tab's numbers with Locust's.
        _, _, before = _live(web_ui)
        urllib.request.urlopen(web_ui + "/stats/reset", data=b"", timeout=30).close()  # the UI posts it
        _, _, after = _live(web_ui)
        assert _turns_ok(after) < _turns_ok(before)

        page.get_by_role("button", name=re.compile("^stop$", re.I)).first.click()
        browser.close()
    print(f"screenshots: {tab_shot} {charts_shot}")
    assert tab_shot.stat().st_size > 20_000 and charts_shot.stat().st_size > 20_000

    # Once the run has stopped, an unchanged view costs a 304.
    time.sleep(2)
    status, etag, _ = _live(web_ui)
    assert status == 200 and etag
    status, _, _ = _live(web_ui, {"If-None-Match": etag})
    assert status == 304
