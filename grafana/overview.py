"""The soak overview dashboard: per-model numbers, the survival curve, failures, latency and audio over time."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, xychart
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import xychart as xychart_models

from grafana.panels import (
    DATASOURCE,
    MODE_VARIABLE,
    MODEL_VARIABLE,
    MODELS,
    RECORD_FILTER,
    RUN,
    RUN_VARIABLE,
    SUMMARY_FILTER,
    InfluxQL,
    grid,
    stat_panel,
    summary_last,
    summary_over_time,
    table_panel,
    timeseries_panel,
)


def soak_overview() -> dashboard.Dashboard:
    capacity_help = (
        "Median, over sessions, of the assistant audio accumulated before the first silent failure "
        "(Kaplan–Meier: sessions without one count as censored). Live while the run goes (open sessions censored "
        "where they are), then the report's exact value."
    )
    board = (
        dashboard.Dashboard("s2s_users: soak overview")
        .uid("s2s-soak-overview")
        .tags(["s2s_users"])
        .description("How long realtime sessions last before they fail silently, live and afterwards.")
        .refresh("10s")
        .time("now-3h", "now")
        .with_variable(RUN_VARIABLE)
        .with_variable(MODEL_VARIABLE)
        .with_variable(MODE_VARIABLE)
    )
    stats = [
        ("Active sessions", "active", "none", "Sessions open now, per model (0 once the run has ended).", 0),
        ("Sessions ended", "sessions_ended", "none", "Sessions recorded, lost ones included.", 0),
        ("Silent failures", "silent_failure_sessions", "none",
         "Sessions with at least one silent failure (zero audio, near silence, drop without a close frame, "
         "timeout).", 0),
        ("Capacity to silent failure", "capacity_median_min", "m", capacity_help, 2),
        ("Assistant audio", "audio_minutes", "m", "Minutes of assistant audio received, all sessions.", 1),
        ("Cost so far", "cost_usd", "currencyUSD", "Estimated from the usage the server reported.", 2),
    ]  # fmt: skip
    for index, (title, field, unit, help_text, decimals) in enumerate(stats):
        board = board.with_panel(stat_panel(title, summary_last(field), unit, grid(4 * index, 0, 4, 4), help_text,
                                       decimals=decimals, no_value="not reached" if field.startswith("capacity")
                                       else "—"))  # fmt: skip
    board = board.with_panel(
        table_panel(
            "Per model (the report's table once the run has ended)",
            'SELECT last("sessions_ended") AS "sessions", last("turns_ok") AS "turns ok", '
            'last("turns_failed") AS "turns failed", last("silent_failure_sessions") AS "silent failures", '
            'last("failed_sessions") AS "failed sessions", last("censored_sessions") AS "censored", '
            'last("lost_sessions") AS "lost", last("audio_minutes") AS "audio min", '
            'last("turn_audio_p50_s") AS "median per-turn s", last("turn_audio_p95_s") AS "p95 per-turn s", '
            'last("capacity_median_min") AS "capacity min", last("capacity_ci_low_min") AS "CI low", '
            'last("capacity_ci_high_min") AS "CI high", last("ttfa_p50_ms") AS "TTFA p50 ms", '
            'last("ttfa_p95_ms") AS "TTFA p95 ms", last("cost_usd") AS "cost USD", last("final") AS "final" '
            f'FROM "s2s_summary" WHERE {SUMMARY_FILTER} GROUP BY "model"',
            grid(0, 4, 24, 5),
            "final = true: the numbers are the report's exact ones; false: live (the Sessions tab's).",
        )
    )
    survival = (
        xychart.Panel()
        .title("Survival: capacity to silent failure (Kaplan–Meier)")
        .description(
            "Share of sessions still without a silent failure after N minutes of assistant audio, per model, "
            "with its 95 % pointwise band (ci_low, ci_high). " + capacity_help
        )
        .datasource(DATASOURCE)
        .with_target(
            InfluxQL(
                'SELECT "capacity_min", "survival", "ci_low", "ci_high" FROM "s2s_survival" '
                f'WHERE {RUN} AND {MODELS} GROUP BY "model"'
            )
        )
        .mapping(xychart_models.SeriesMapping.AUTO)
        .show(xychart_models.XYShowMode.LINES)
        .line_width(2)
        .min(0)
        .max(1)
        .unit("percentunit")
        .axis_label("survival")
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )  # fmt: skip
        .grid_pos(grid(0, 9, 12, 10))
    )
    board = board.with_panel(survival)
    board = board.with_panel(
        timeseries_panel(
            "Active sessions",
            [InfluxQL(summary_over_time("active"), alias="$tag_model")],
            "none",
            grid(12, 9, 12, 5),
            "Open sessions per model, from the master's summaries.",
        )
    )
    board = board.with_panel(
        timeseries_panel(
            "Capacity to silent failure (median, live)",
            [
                InfluxQL(summary_over_time("capacity_median_min"), alias="$tag_model median"),
                InfluxQL(summary_over_time("capacity_ci_low_min"), ref_id="B", alias="$tag_model CI low"),
                InfluxQL(summary_over_time("capacity_ci_high_min"), ref_id="C", alias="$tag_model CI high"),
            ],
            "m",
            grid(12, 14, 12, 5),
            capacity_help,
        )
    )
    board = board.with_panel(
        timeseries_panel(
            "Failed turns by class",
            [
                InfluxQL(
                    f'SELECT count("turn") FROM "s2s_turn" WHERE {RECORD_FILTER} AND "failure_kind" != \'none\' '
                    'AND $timeFilter GROUP BY time($__interval), "outcome" fill(none)',
                    alias="$tag_outcome",
                )
            ],
            "none",
            grid(0, 19, 12, 7),
            "Turns that ended in a failure, stacked by taxonomy code.",
            bars=True,
            stacked=True,
        )
    )
    board = board.with_panel(
        timeseries_panel(
            "Failures: silent vs visible",
            [
                InfluxQL(
                    f'SELECT count("turn") FROM "s2s_turn" WHERE {RECORD_FILTER} AND "failure_kind" != \'none\' '
                    'AND $timeFilter GROUP BY time($__interval), "failure_kind" fill(none)',
                    alias="$tag_failure_kind turns",
                ),
                InfluxQL(
                    f'SELECT count("session_id") FROM "s2s_session" WHERE {RECORD_FILTER} '
                    'AND "failure_kind" != \'none\' AND $timeFilter GROUP BY time($__interval), "failure_kind" '
                    "fill(none)",
                    ref_id="B",
                    alias="$tag_failure_kind sessions (first failure)",
                ),
            ],
            "none",
            grid(12, 19, 12, 7),
            "Silent failures give the application no error signal: they look like success, or like nothing.",
            bars=True,
            stacked=True,
        )
    )
    board = board.with_panel(
        timeseries_panel(
            "Time to first audio",
            [
                InfluxQL(
                    'SELECT percentile("ttfa_ms", 50) AS "p50", percentile("ttfa_ms", 95) AS "p95", '
                    'percentile("audible_ms", 50) AS "audible p50", percentile("audible_ms", 95) AS "audible p95" '
                    f'FROM "s2s_turn" WHERE {RECORD_FILTER} AND "outcome" = \'ok\' AND $timeFilter '
                    'GROUP BY time($__interval), "model" fill(none)',
                    alias="$tag_model $col",
                )
            ],
            "ms",
            grid(0, 26, 12, 7),
            "From the end of the user's audio to the first assistant audio byte (TTFA), and to the first sample a "
            "caller hears (audible: TTFA plus the answer's leading silence), turns that ended ok.",
        )
    )
    board = board.with_panel(
        timeseries_panel(
            "Assistant audio per turn",
            [
                InfluxQL(
                    'SELECT percentile("assistant_audio_s", 50) AS "p50", percentile("assistant_audio_s", 95) '
                    f'AS "p95" FROM "s2s_turn" WHERE {RECORD_FILTER} AND "outcome" = \'ok\' AND $timeFilter '
                    'GROUP BY time($__interval), "model" fill(none)',
                    alias="$tag_model $col",
                )
            ],
            "s",
            grid(12, 26, 12, 7),
            "Seconds of assistant audio per ok turn: how chatty the model is (the ceiling is in minutes, not turns).",
        )
    )
    board = board.with_panel(
        timeseries_panel(
            "Assistant audio received and cost",
            [
                InfluxQL(summary_over_time("audio_minutes"), alias="$tag_model audio min"),
                InfluxQL(summary_over_time("cost_usd"), ref_id="B", alias="$tag_model USD"),
            ],
            "none",
            grid(0, 33, 12, 6),
            "Cumulative, per model, from the master's summaries.",
        )
    )
    board = board.with_panel(
        table_panel(
            "Failure taxonomy",
            f'SELECT count("turn") AS "turns" FROM "s2s_turn" WHERE {RECORD_FILTER} AND "outcome" != \'ok\' '
            'GROUP BY "outcome", "failure_kind"',
            grid(12, 33, 12, 6),
            "Turn outcomes other than ok, by taxonomy code; failure_kind none = not a failure (harness stop, "
            "session cap).",
        )
    )
    return board
