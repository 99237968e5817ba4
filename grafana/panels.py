"""What the dashboards are made of: the InfluxQL query type, the data source, the shared filters, variables and
panel helpers (grafana-foundation-sdk builders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_models

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


def grid(x: int, y: int, w: int, h: int) -> dashboard_models.GridPos:
    return dashboard_models.GridPos(h=h, w=w, x=x, y=y)


SORT_NEWEST_FIRST = dashboard_models.VariableSort.ALPHABETICAL_DESC  # run ids start with their UTC time
SORT_ALPHABETICAL = dashboard_models.VariableSort.ALPHABETICAL_ASC


def variable(name: str, label: str, query: str, multi: bool = True) -> dashboard.QueryVariable:
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


RUN_VARIABLE = variable("run", "Run", 'SHOW TAG VALUES FROM "s2s_run" WITH KEY = "run_id"', multi=False)
MODEL_VARIABLE = variable("model", "Model", f'SHOW TAG VALUES FROM "s2s_summary" WITH KEY = "model" WHERE {RUN}')
MODE_VARIABLE = variable(
    "turn_mode", "Turn mode", f'SHOW TAG VALUES FROM "s2s_summary" WITH KEY = "turn_mode" WHERE {RUN}'
)


WORKER_VARIABLE = variable("worker", "Worker", f'SHOW TAG VALUES FROM "s2s_worker" WITH KEY = "worker" WHERE {RUN}')


def legend() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["lastNotNull", "max"])
    )


def timeseries_panel(title: str, queries: Sequence[InfluxQL], unit: str, grid: dashboard_models.GridPos,
                description: str, bars: bool = False, stacked: bool = False) -> timeseries.Panel:  # fmt: skip
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(queries))
        .unit(unit)
        .grid_pos(grid)
        .legend(legend())
        .line_width(2)
        .fill_opacity(70 if bars else 10)
        .span_nulls(True)
    )
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS)
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    return panel


def stat_panel(title: str, query: str, unit: str, grid: dashboard_models.GridPos, description: str,
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


def table_panel(title: str, query: str, grid: dashboard_models.GridPos, description: str) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(InfluxQL(query, table_format=True))
        .grid_pos(grid)
    )


def summary_last(field: str) -> str:
    return f'SELECT last("{field}") AS "{field}" FROM "s2s_summary" WHERE {SUMMARY_FILTER} GROUP BY "model"'


def summary_over_time(field: str) -> str:
    return (
        f'SELECT last("{field}") AS "{field}" FROM "s2s_summary" WHERE {SUMMARY_FILTER} AND $timeFilter '
        'GROUP BY time($__interval), "model" fill(previous)'
    )


def annotation() -> dict[str, Any]:
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
