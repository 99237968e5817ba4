"""Plots: valid inline SVG, one curve per model, censoring marked, deterministic, and no crash on empty input."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from s2s_users.core.reporting.plots import (
    audio_per_turn_svg,
    failures_svg,
    survival_svg,
    survival_svg_from,
    ttfa_over_time_svg,
)
from s2s_users.core.reporting.summary import build_report
from tests.core.reporting.test_summary import seed_records

SVG = "{http://www.w3.org/2000/svg}"


def _groups(svg: str, prefix: str) -> list[str]:
    root = ET.fromstring(svg)
    return sorted(g.get("id", "") for g in root.iter(f"{SVG}g") if g.get("id", "").startswith(prefix))


def test_the_survival_plot_has_one_curve_per_model_and_marks_censored_sessions() -> None:
    svg = survival_svg(seed_records())
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert _groups(svg, "survival-") == ["survival-gpt-realtime", "survival-gpt-realtime-2"]
    # gpt-realtime's only session is censored (no silent failure); gpt-realtime-2's two both failed.
    assert _groups(svg, "censored-") == ["censored-gpt-realtime"]


def test_every_plot_is_deterministic() -> None:
    records = seed_records()
    assert survival_svg(records) == survival_svg(records)
    assert audio_per_turn_svg(records) == audio_per_turn_svg(records)
    assert failures_svg(build_report(records)) == failures_svg(build_report(records))


def test_empty_input_gives_a_plot_that_says_so() -> None:
    assert "no session has ended yet" in survival_svg_from({})
    assert "no turns" in audio_per_turn_svg([])
    assert "no time to first audio" in ttfa_over_time_svg([])
    assert "no failures" in failures_svg(build_report(seed_records()[:1]))


def test_the_failures_plot_names_every_failing_class() -> None:
    svg = failures_svg(build_report(seed_records()))
    assert "response.zero_audio" in svg and "transport.closed_no_frame" in svg
    assert "response.failed" not in svg
    ET.fromstring(svg)


def test_importing_and_drawing_leave_matplotlibs_global_settings_alone() -> None:
    import matplotlib

    svg = survival_svg_from({"m": [(1.0, 1, 0), (2.0, 0, 1)]})
    assert "<text" in svg  # our SVG settings applied while saving: text stays text
    for key in ("svg.fonttype", "svg.hashsalt"):
        assert matplotlib.rcParams[key] == matplotlib.rcParamsDefault[key]
