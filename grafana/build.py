"""The s2s_users Grafana dashboards, as code: ``python -m grafana.build`` writes grafana/dashboards/*.json.

Built with Grafana's own dashboards-as-code library (grafana-foundation-sdk, pinned to the Grafana 11.6 schema in
the ``dev`` extras); its generated builders type-check panels, options and variables. It has no InfluxDB query type,
so ``InfluxQL`` below is the one small query class it lacks. Every query is raw InfluxQL: InfluxDB 1.8+, 2.x (through
the DBRP mapping the compose stack creates) and 3.x all serve it. ``--check`` exits 1 when the committed files
differ from what this script builds (the test suite runs it).

What the queries read (DESIGN §6): workers write ``s2s_turn`` and ``s2s_worker``; the master writes ``s2s_session``
(every session once, lost ones included), ``s2s_summary`` (per model, live then the report's final numbers),
``s2s_survival`` (the survival curve's corners, replaced at each refresh) and ``s2s_run`` (start/stop annotations).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, stat, table, timeseries, xychart
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_models
from grafana_foundation_sdk.models import xychart as xychart_models

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE_UID = "s2s-influxdb"
DATASOURCE = dashboard_models.DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)

# Filters every query shares: the chosen run, models and turn modes (multi-value variables become regexes).
RUN = '"run_id" =~ /^$run$/'
MODELS = '"model" =~ /^$model$/'
MODES = '"turn_mode" =~ /^$turn_mode$/'
SUMMARY_FILTER = f"{RUN} AND {MODELS}"
RECORD_FILTER = f"{RUN} AND {MODELS} AND {MODES}"


class InfluxQLQuery(cogvariants.Dataquery):
    """A raw InfluxQL query of Grafana's InfluxDB data source."""

    def __init__(self, ref_id: str, query: str, result_format: str, alias: str | None) -> None:
        self.ref_id = ref_id
        self.query = query
        self.result_format = result_format
        self.alias = alias

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": {"type": "influxdb", "uid": DATASOURCE_UID},
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            data["alias"] = self.alias
        return data


class InfluxQL(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: str, ref_id: str = "A", table_format: bool = False, alias: str | None = None) -> None:
        self._query = InfluxQLQuery(ref_id, " ".join(query.split()), "table" if table_format else "time_series", alias)

    def build(self) -> cogvariants.Dataquery:
        return self._query


def _grid(x: int, y: int, w: int, h: int) -> dashboard_models.GridPos:
    return dashboard_models.GridPos(h=h, w=w, x=x, y=y)


SORT_NEWEST_FIRST = dashboard_models.VariableSort.ALPHABETICAL_DESC  # run ids start with their UTC time
SORT_ALPHABETICAL = dashboard_models.VariableSort.ALPHABETICAL_ASC


def _variable(name: str, label: str, query: str, multi: bool = True) -> dashboard.QueryVariable:
    variable = (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(
            dashboard_models.VariableSort.ALPHABETICAL_DESC
            if name == "run"
            else dashboard_models.VariableSort.ALPHABETICAL_ASC
        )
    )
    if multi:
        variable = variable.multi(True).include_all(True)
    return variable


RUN_VARIABLE = _variable("run", "Run", 'SHOW TAG VALUES FROM "s2s_run" WITH KEY = "run_id"', multi=False)
MODEL_VARIABLE = _variable("model", "Model", f'SHOW TAG VALUES FROM "s2s_summary" WITH KEY = "model" WHERE {RUN}')
MODE_VARIABLE = _variable(
    "turn_mode", "Turn mode", f'SHOW TAG VALUES FROM "s2s_summary" WITH KEY = "turn_mode" WHERE {RUN}'
)


WORKER_VARIABLE = _variable("worker", "Worker", f'SHOW TAG VALUES FROM "s2s_worker" WITH KEY = "worker" WHERE {RUN}')


def _legend() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["lastNotNull", "max"])
    )


def _timeseries(title: str, queries: Sequence[InfluxQL], unit: str, grid: dashboard_models.GridPos,
                description: str, bars: bool = False, stacked: bool = False) -> timeseries.Panel:  # fmt: skip
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(queries))
        .unit(unit)
        .grid_pos(grid)
        .legend(_legend())
        .line_width(2)
        .fill_opacity(70 if bars else 10)
        .span_nulls(True)
    )
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS)
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    return panel


def _stat(title: str, query: str, unit: str, grid: dashboard_models.GridPos, description: str,
          decimals: int = 0, no_value: str = "—") -> stat.Panel:  # fmt: skip
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(InfluxQL(query))
        .unit(unit)
        .decimals(decimals)
        .no_value(no_value)
        .grid_pos(grid)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .graph_mode(common.BigValueGraphMode.NONE)
    )


def _table(title: str, query: str, grid: dashboard_models.GridPos, description: str) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(InfluxQL(query, table_format=True))
        .grid_pos(grid)
    )


def _summary_last(field: str) -> str:
    return f'SELECT last("{field}") AS "{field}" FROM "s2s_summary" WHERE {SUMMARY_FILTER} GROUP BY "model"'


def _summary_over_time(field: str) -> str:
    return (
        f'SELECT last("{field}") AS "{field}" FROM "s2s_summary" WHERE {SUMMARY_FILTER} AND $timeFilter '
        'GROUP BY time($__interval), "model" fill(previous)'
    )


def _annotation() -> dict[str, Any]:
    """Run start and stop marks (the SDK's annotation target is typed for Grafana's own annotations)."""
    return {
        "name": "Runs",
        "datasource": {"type": "influxdb", "uid": DATASOURCE_UID},
        "enable": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "query": f'SELECT "text", "event" FROM "s2s_run" WHERE {RUN} AND $timeFilter',
        "textColumn": "text",
        "tagsColumn": "event",
        "target": {
            "query": f'SELECT "text", "event" FROM "s2s_run" WHERE {RUN} AND $timeFilter',
            "rawQuery": True,
            "resultFormat": "table",
            "refId": "Anno",
        },
    }


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
        board = board.with_panel(_stat(title, _summary_last(field), unit, _grid(4 * index, 0, 4, 4), help_text,
                                       decimals=decimals, no_value="not reached" if field.startswith("capacity")
                                       else "—"))  # fmt: skip
    board = board.with_panel(
        _table(
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
            _grid(0, 4, 24, 5),
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
        .grid_pos(_grid(0, 9, 12, 10))
    )
    board = board.with_panel(survival)
    board = board.with_panel(
        _timeseries(
            "Active sessions",
            [InfluxQL(_summary_over_time("active"), alias="$tag_model")],
            "none",
            _grid(12, 9, 12, 5),
            "Open sessions per model, from the master's summaries.",
        )
    )
    board = board.with_panel(
        _timeseries(
            "Capacity to silent failure (median, live)",
            [
                InfluxQL(_summary_over_time("capacity_median_min"), alias="$tag_model median"),
                InfluxQL(_summary_over_time("capacity_ci_low_min"), ref_id="B", alias="$tag_model CI low"),
                InfluxQL(_summary_over_time("capacity_ci_high_min"), ref_id="C", alias="$tag_model CI high"),
            ],
            "m",
            _grid(12, 14, 12, 5),
            capacity_help,
        )
    )
    board = board.with_panel(
        _timeseries(
            "Failed turns by class",
            [
                InfluxQL(
                    f'SELECT count("turn") FROM "s2s_turn" WHERE {RECORD_FILTER} AND "failure_kind" != \'none\' '
                    'AND $timeFilter GROUP BY time($__interval), "outcome" fill(none)',
                    alias="$tag_outcome",
                )
            ],
            "none",
            _grid(0, 19, 12, 7),
            "Turns that ended in a failure, stacked by taxonomy code.",
            bars=True,
            stacked=True,
        )
    )
    board = board.with_panel(
        _timeseries(
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
            _grid(12, 19, 12, 7),
            "Silent failures give the application no error signal: they look like success, or like nothing.",
            bars=True,
            stacked=True,
        )
    )
    board = board.with_panel(
        _timeseries(
            "Time to first audio",
            [
                InfluxQL(
                    'SELECT percentile("ttfa_ms", 50) AS "p50", percentile("ttfa_ms", 95) AS "p95" '
                    f'FROM "s2s_turn" WHERE {RECORD_FILTER} AND "outcome" = \'ok\' AND $timeFilter '
                    'GROUP BY time($__interval), "model" fill(none)',
                    alias="$tag_model $col",
                )
            ],
            "ms",
            _grid(0, 26, 12, 7),
            "From the end of the user's audio to the first assistant audio byte, turns that ended ok.",
        )
    )
    board = board.with_panel(
        _timeseries(
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
            _grid(12, 26, 12, 7),
            "Seconds of assistant audio per ok turn: how chatty the model is (the ceiling is in minutes, not turns).",
        )
    )
    board = board.with_panel(
        _timeseries(
            "Assistant audio received and cost",
            [
                InfluxQL(_summary_over_time("audio_minutes"), alias="$tag_model audio min"),
                InfluxQL(_summary_over_time("cost_usd"), ref_id="B", alias="$tag_model USD"),
            ],
            "none",
            _grid(0, 33, 12, 6),
            "Cumulative, per model, from the master's summaries.",
        )
    )
    board = board.with_panel(
        _table(
            "Failure taxonomy",
            f'SELECT count("turn") AS "turns" FROM "s2s_turn" WHERE {RECORD_FILTER} AND "outcome" != \'ok\' '
            'GROUP BY "outcome", "failure_kind"',
            _grid(12, 33, 12, 6),
            "Turn outcomes other than ok, by taxonomy code; failure_kind none = not a failure (harness stop, "
            "session cap).",
        )
    )
    return board


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
            _variable(
                "session",
                "Session",
                f'SELECT DISTINCT("session_id") FROM "s2s_session" WHERE {RUN}',
                multi=False,
            )
        )
    )
    board = board.with_panel(
        _table(
            "The session",
            'SELECT "session_id", "model", "worker", "outcome", "failure_class", "failure_kind", "failure_turn", '
            '"end_class", "turns_completed", "turns_planned", "assistant_audio_s", "capacity_to_silent_failure_s", '
            '"silent_censored", "close_code", "close_frame_received", "failure_detail", "estimated_cost_usd" '
            f'FROM "s2s_session" WHERE {session_filter}',
            _grid(0, 0, 24, 4),
            "The session's record, as in sessions.jsonl.",
        )
    )
    turn_fields = (
        '"turn", "outcome", "ttfa_ms", "response_ms", "assistant_audio_s", "input_audio_s", "peak_dbfs", '
        '"pacing_lag_ms", "input_tokens", "output_tokens", "response_status", "detail"'
    )
    board = board.with_panel(
        _timeseries(
            "Assistant audio accumulated in the session",
            [
                InfluxQL(
                    f'SELECT cumulative_sum("assistant_audio_s") AS "accumulated" FROM "s2s_turn" '
                    f"WHERE {session_filter} AND $timeFilter",
                    alias="accumulated assistant audio",
                )
            ],
            "s",
            _grid(0, 4, 12, 8),
            "The seed's metric: the ceiling is reached in minutes of assistant audio.",
        )
    )
    board = board.with_panel(
        _timeseries(
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
            _grid(12, 4, 12, 8),
            "A zero-audio turn shows as a bar of height 0 right before the drop.",
            bars=True,
        )
    )
    board = board.with_panel(
        _table(
            "Turns",
            f'SELECT {turn_fields} FROM "s2s_turn" WHERE {session_filter}',
            _grid(0, 12, 24, 12),
            "Every turn of the session: outcome, latency, audio, level, pacing, tokens, detail.",
        )
    )
    return board


def load_generator() -> dashboard.Dashboard:
    worker = f'{RUN} AND "worker" =~ /^$worker$/'

    def worker_series(field: str, title: str, unit: str, grid: dashboard_models.GridPos, help_text: str) -> Any:
        return _timeseries(
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
            _variable("worker", "Worker", f'SHOW TAG VALUES FROM "s2s_worker" WITH KEY = "worker" WHERE {RUN}')
        )
    )
    board = board.with_panel(
        worker_series(
            "pacing_lag_p95_ms",
            "Pacing lag p95 (per worker)",
            "ms",
            _grid(0, 0, 12, 8),
            "How late prompt chunks went out against their deadlines (p95 over the last turns). Above "
            "20 ms the generator is overloaded: add workers.",
        )  # fmt: skip
    )
    board = board.with_panel(
        worker_series(
            "cpu_percent",
            "CPU (per process)",
            "percent",
            _grid(12, 0, 12, 8),
            "CPU of each Locust process (master included); near 100 % a process cannot keep its clock.",
        )  # fmt: skip
    )
    board = board.with_panel(
        worker_series(
            "active_sessions",
            "Active sessions (per worker)",
            "none",
            _grid(0, 8, 12, 8),
            "Sessions each worker holds open.",
        )  # fmt: skip
    )
    board = board.with_panel(
        _timeseries(
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
            _grid(12, 8, 12, 8),
            "Points waiting on disk while InfluxDB was unreachable, points in memory, and points dropped "
            "(spool full): dropped must stay 0.",
        )
    )
    board = board.with_panel(
        _timeseries(
            "Worst chunk lag per turn (max, per worker)",
            [
                InfluxQL(
                    f'SELECT max("pacing_lag_ms") FROM "s2s_turn" WHERE {worker} AND $timeFilter '
                    'GROUP BY time($__interval), "worker" fill(none)',
                    alias="$tag_worker",
                )
            ],
            "ms",
            _grid(0, 16, 12, 8),
            "The latest chunk of any turn in the interval, from the turn records.",
        )
    )
    board = board.with_panel(
        _stat(
            "Sessions lost with their worker",
            _summary_last("lost_sessions").replace(f" AND {MODELS}", ""),
            "none",
            _grid(12, 16, 12, 8),
            "Open sessions of workers that died: recorded as lost (censored), never as failures.",
        )  # fmt: skip
    )
    return board


DASHBOARDS = {
    "s2s-soak-overview.json": soak_overview,
    "s2s-session.json": session_drilldown,
    "s2s-load-generator.json": load_generator,
}


def render(build: Any) -> str:
    """The dashboard's JSON as committed: the SDK's encoding, plus the annotation it has no type for."""
    data = json.loads(json.dumps(build().build(), cls=JSONEncoder))
    data["annotations"] = {"list": [_annotation()]}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = OUT / name
        text = render(build)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
            continue
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}: run python -m grafana.build", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
