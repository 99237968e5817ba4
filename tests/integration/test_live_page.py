"""The live charts page's warning about the load generator's own clock, drawn by its script in a real Chromium
from a live.json made for the test (served by Playwright: no Locust, no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, Route, sync_playwright

from s2s_users.core.metrics.lag import LagHistogram
from s2s_users.core.metrics.live import LiveView
from s2s_users.locust_ext.webui import STATIC
from tests.support.influx import find_binary

CHROMIUM = find_binary("chromium", "/usr/bin/chromium")
ORIGIN = "http://s2s.test"


def _snapshot(**lag_s_by_worker: float) -> dict[str, Any]:
    view = LiveView()
    for worker, lag_s in lag_s_by_worker.items():
        lags = LagHistogram()
        for _ in range(100):
            lags.add(lag_s)
        view.add_pacing(worker.replace("_", "-"), lags)
    return view.snapshot()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser.new_page()
        browser.close()


def _open(page: Page, snapshot: dict[str, Any]) -> None:
    def serve(route: Route) -> None:
        if route.request.url.endswith("/live.json"):
            route.fulfill(status=200, content_type="application/json", body=json.dumps(snapshot))
        else:
            route.fulfill(status=200, content_type="text/html", body=(STATIC / "live.html").read_text())

    page.route(ORIGIN + "/**", serve)
    page.goto(ORIGIN + "/s2s/live")
    page.locator("#s2s-pacing", has_text="Pacing lag").wait_for(timeout=10_000)


def test_a_generator_that_keeps_its_clock_shows_its_lag_and_no_warning(page: Page) -> None:
    _open(page, _snapshot(worker_1=0.0003))
    assert "p50 0.3 ms" in page.locator("#s2s-pacing").inner_text()
    assert page.locator("#s2s-late").is_hidden()


def test_a_late_worker_is_named_in_a_warning_above_the_tables(page: Page) -> None:
    _open(page, _snapshot(worker_1=0.0003, worker_2=0.030))
    warning = page.locator("#s2s-late")
    assert warning.is_visible()
    assert "falling behind on worker-2 (p99 30 ms)" in warning.inner_text() and "above 20 ms" in warning.inner_text()
