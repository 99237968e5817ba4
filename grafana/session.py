"""The session drill-down dashboard: one session, turn by turn."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from grafana.panels import (
    RUN,
    RUN_VARIABLE,
    InfluxQL,
    grid,
    table_panel,
    timeseries_panel,
    variable,
)


def session_drilldown() -> dashboard.Dashboard:
    session_filter = f"{RUN} AND \"session_id\" = '$session'"
    board = (
        dashboard.Dashboard("s2s_users: session drill-down")
        .uid("s2s-session")
        .tags(["s2s_users"])
        .description("One session, turn by turn: what the seed's failure looks like on a timeline.")
        .time("now-3h", "now")
        .with_variable(RUN_VARIABLE)
        .with_variable(
            variable(
                "session",
                "Session",
                f'SELECT DISTINCT("session_id") FROM "s2s_session" WHERE {RUN}',
                multi=False,
            )
        )
    )
    board = board.with_panel(
        table_panel(
            "The session",
            'SELECT "session_id", "model", "worker", "outcome", "failure_class", "failure_kind", "failure_turn", '
            '"end_class", "turns_completed", "turns_planned", "assistant_audio_s", "capacity_to_silent_failure_s", '
            '"silent_censored", "close_code", "close_frame_received", "failure_detail", "estimated_cost_usd" '
            f'FROM "s2s_session" WHERE {session_filter}',
            grid(0, 0, 24, 4),
            "The session's record, as in sessions.jsonl.",
        )
    )
    turn_fields = (
        '"turn", "outcome", "ttfa_ms", "response_ms", "assistant_audio_s", "input_audio_s", "peak_dbfs", '
        '"pacing_lag_ms", "input_tokens", "output_tokens", "response_status", "detail"'
    )
    board = board.with_panel(
        timeseries_panel(
            "Assistant audio accumulated in the session",
            [
                InfluxQL(
                    f'SELECT cumulative_sum("assistant_audio_s") AS "accumulated" FROM "s2s_turn" '
                    f"WHERE {session_filter} AND $timeFilter",
                    alias="accumulated assistant audio",
                )
            ],
            "s",
            grid(0, 4, 12, 8),
            "The seed's metric: the ceiling is reached in minutes of assistant audio.",
        )
    )
    board = board.with_panel(
        timeseries_panel(
            "Per turn: assistant audio and time to first audio",
            [
                InfluxQL(
                    f'SELECT "assistant_audio_s" FROM "s2s_turn" WHERE {session_filter} AND $timeFilter',
                    alias="assistant audio (s)",
                ),
                InfluxQL(
                    f'SELECT "ttfa_ms" / 1000 AS "ttfa_s" FROM "s2s_turn" WHERE {session_filter} AND $timeFilter',
                    ref_id="B",
                    alias="time to first audio (s)",
                ),
            ],
            "s",
            grid(12, 4, 12, 8),
            "A zero-audio turn shows as a bar of height 0 right before the drop.",
            bars=True,
        )
    )
    board = board.with_panel(
        table_panel(
            "Turns",
            f'SELECT {turn_fields} FROM "s2s_turn" WHERE {session_filter}',
            grid(0, 12, 24, 12),
            "Every turn of the session: outcome, latency, audio, level, pacing, tokens, detail.",
        )
    )
    return board
