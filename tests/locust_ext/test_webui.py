"""The Sessions tab's pacing line and its warning (the rest of the tab runs in tests/integration/test_web_ui.py)."""

from __future__ import annotations

from s2s_users.core.metrics.lag import LagHistogram
from s2s_users.core.metrics.live import LiveView
from s2s_users.locust_ext.webui import render_pacing, render_panel


def _view(**lags_by_worker: float) -> LiveView:
    view = LiveView()
    for worker, lag_s in lags_by_worker.items():
        lags = LagHistogram()
        for _ in range(100):
            lags.add(lag_s)
        view.add_pacing(worker.replace("_", "-"), lags)
    return view


def test_no_chunks_yet_shows_nothing() -> None:
    assert render_pacing(LiveView()) == ""


def test_a_generator_that_keeps_its_clock_shows_its_lag_without_a_warning() -> None:
    text = render_pacing(_view(worker_1=0.0003))
    assert "Pacing lag per prompt chunk: p50 0.3 ms" in text and "falling behind" not in text


def test_a_late_worker_is_named_in_a_warning_at_the_top_of_the_panel() -> None:
    panel = render_panel(_view(worker_1=0.0003, worker_2=0.030), "12:00:00")
    assert 'id="s2s-late"' in panel and "falling behind on worker-2 (p99 30 ms)" in panel
    assert panel.index("s2s-late") < panel.index("s2s-survival")
