"""The load-generator health dashboard: is the generator itself keeping up?"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as dashboard_models

from grafana.panels import (
    MODELS,
    RUN,
    RUN_VARIABLE,
    InfluxQL,
    grid,
    stat_panel,
    summary_last,
    timeseries_panel,
    variable,
)


def load_generator() -> dashboard.Dashboard:
    worker = f'{RUN} AND "worker" =~ /^$worker$/'

    def worker_series(field: str, title: str, unit: str, grid: dashboard_models.GridPos, help_text: str) -> Any:
        return timeseries_panel(
            title,
            [
                InfluxQL(
                    f'SELECT last("{field}") FROM "s2s_worker" WHERE {worker} AND $timeFilter '
                    'GROUP BY time($__interval), "worker" fill(none)',
                    alias="$tag_worker",
                )
            ],
            unit,
            grid,
            help_text,
        )

    board = (
        dashboard.Dashboard("s2s_users: load generator health")
        .uid("s2s-load-generator")
        .tags(["s2s_users"])
        .description("Is the load generator itself healthy? A late generator changes what the service hears.")
        .refresh("10s")
        .time("now-3h", "now")
        .with_variable(RUN_VARIABLE)
        .with_variable(
            variable("worker", "Worker", f'SHOW TAG VALUES FROM "s2s_worker" WITH KEY = "worker" WHERE {RUN}')
        )
    )
    board = board.with_panel(
        worker_series(
            "pacing_lag_p99_ms",
            "Pacing lag p99 per chunk (per worker)",
            "ms",
            grid(0, 0, 12, 8),
            "How late prompt chunks went out against their deadlines: p99 over every chunk of the turns that "
            "ended since the worker's previous point. Above 20 ms the generator is overloaded: add workers.",
        )  # fmt: skip
    )
    board = board.with_panel(
        worker_series(
            "cpu_percent",
            "CPU (per process)",
            "percent",
            grid(12, 0, 12, 8),
            "CPU of each Locust process (master included); near 100 % a process cannot keep its clock.",
        )  # fmt: skip
    )
    board = board.with_panel(
        worker_series(
            "active_sessions",
            "Active sessions (per worker)",
            "none",
            grid(0, 8, 12, 8),
            "Sessions each worker holds open.",
        )  # fmt: skip
    )
    board = board.with_panel(
        timeseries_panel(
            "InfluxDB sink: spool, queue and drops (per process)",
            [
                InfluxQL(
                    f'SELECT last("spool_points") AS "spooled", last("queued_points") AS "queued", '
                    f'last("dropped_points") AS "dropped" FROM "s2s_worker" WHERE {worker} AND $timeFilter '
                    'GROUP BY time($__interval), "worker" fill(none)',
                    alias="$tag_worker $col",
                )
            ],
            "none",
            grid(12, 8, 12, 8),
            "Points waiting on disk while InfluxDB was unreachable, points in memory, and points dropped "
            "(spool full): dropped must stay 0.",
        )
    )
    board = board.with_panel(
        timeseries_panel(
            "Worst chunk lag per turn (max, per worker)",
            [
                InfluxQL(
                    f'SELECT max("pacing_lag_ms") FROM "s2s_turn" WHERE {worker} AND $timeFilter '
                    'GROUP BY time($__interval), "worker" fill(none)',
                    alias="$tag_worker",
                )
            ],
            "ms",
            grid(0, 16, 12, 8),
            "The latest chunk of any turn in the interval, from the turn records.",
        )
    )
    board = board.with_panel(
        stat_panel(
            "Sessions lost with their worker",
            summary_last("lost_sessions").replace(f" AND {MODELS}", ""),
            "none",
            grid(12, 16, 12, 8),
            "Open sessions of workers that died: recorded as lost (censored), never as failures.",
        )  # fmt: skip
    )
    return board
