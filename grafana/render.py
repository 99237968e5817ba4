"""Draw what Grafana would show: every panel of the dashboards, from their own queries, as PNG files.

    python -m grafana.render --url http://127.0.0.1:8086 --db s2s --token TOKEN --run RUN_ID --out pictures/

(InfluxDB 1.x: ``--user``/``--password`` instead of ``--token``.) Each dashboard's panels are laid out on
Grafana's 24-column grid; stat panels show their last values, tables their rows, time series and the XY survival
chart their series. The time range is the run's, from its start and stop annotations. This is a check of the
queries and of what they return, not a copy of Grafana's look.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen: files only

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from grafana.queries import InfluxQL, dashboard_names, fill, load, rows  # noqa: E402

ROW_INCHES = 0.42
WIDTH_INCHES = 22.0
TITLE_ROWS = 2  # room above the grid for the dashboard's title
UNITS = {"m": "min", "s": "s", "ms": "ms", "percent": "%", "percentunit": "", "currencyUSD": "USD", "none": ""}


def run_range(influx: InfluxQL, run_id: str) -> tuple[int, int]:
    """The run's time range in ms (from its annotations), with a minute of margin."""
    series = influx.run(f'SELECT "text" FROM "s2s_run" WHERE "run_id" = \'{run_id}\'')
    times = [values[0] for item in series for values in item["values"]]
    if not times:
        raise SystemExit(f"error: no run {run_id!r} in this database: check --run and --db")
    return min(times) - 60_000, max(times) + 60_000


def _values(influx: InfluxQL, query: str, variables: dict[str, list[str]], start: int, end: int) -> list[str]:
    found = rows(influx.run(fill(query, variables, start, end, "10s")))
    return [str(row.get("value", next((v for k, v in row.items() if k != "time"), ""))) for row in found]


def variables_for(influx: InfluxQL, board: dict[str, Any], run_id: str, start: int, end: int) -> dict[str, list[str]]:
    """Every variable of ``board``: the run given, all values of the others (a failed session if there is one)."""
    variables: dict[str, list[str]] = {"run": [run_id]}
    for variable in board.get("templating", {}).get("list", []):
        name = variable["name"]
        if name == "run":
            continue
        if name == "session":
            failed = rows(
                influx.run(
                    f'SELECT "session_id" FROM "s2s_session" WHERE "run_id" = \'{run_id}\' '
                    "AND \"failure_kind\" = 'silent' LIMIT 1"
                )
            )
            if failed:
                variables[name] = [str(failed[0]["session_id"])]
                continue
        variables[name] = _values(influx, variable["query"], variables, start, end) or [""]
    return variables


def _label(alias: str | None, tags: dict[str, str], column: str) -> str:
    if not alias:
        return " ".join([*tags.values(), column]).strip()
    text = re.sub(r"\$tag_(\w+)", lambda m: tags.get(m.group(1), ""), alias)
    return text.replace("$col", column).strip()


def _series(influx: InfluxQL, panel: dict[str, Any], variables: dict[str, list[str]], start: int, end: int,
            interval: str) -> list[tuple[str, list[str], list[list[Any]], dict[str, str]]]:  # fmt: skip
    out = []
    for target in panel.get("targets", []):
        for item in influx.run(fill(target["query"], variables, start, end, interval)):
            tags = item.get("tags", {})
            out.append((target.get("alias"), item["columns"], item["values"], tags))
    return out


def _draw_stat(ax: Axes, series: list[Any], unit: str) -> None:
    lines = []
    for _, columns, values, tags in series:
        last = next((row[-1] for row in reversed(values) if row[-1] is not None), None)
        shown = "—" if last is None else (f"{last:.2f}" if isinstance(last, float) else str(last))
        lines.append(f"{' '.join(tags.values()) or columns[-1]}: {shown} {unit}".rstrip())
    ax.text(0.02, 0.5, "\n".join(lines) or "no data", fontsize=13, va="center", family="monospace")
    ax.set_axis_off()


def _draw_table(ax: Axes, series: list[Any]) -> None:
    header: list[str] = []
    body: list[list[str]] = []
    for _, columns, values, tags in series:
        header = list(tags) + [c for c in columns if c != "time"]
        for row in values:
            cells = [*tags.values(), *(v for c, v in zip(columns, row, strict=True) if c != "time")]
            body.append([f"{v:.3g}" if isinstance(v, float) else str(v)[:40] for v in cells])
    ax.set_axis_off()
    if not body:
        ax.text(0.5, 0.5, "no data", ha="center")
        return
    table = ax.table(cellText=body[:14], colLabels=header, loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(7 if len(header) > 8 else 9)


def _draw_time(ax: Axes, series: list[Any], unit: str, bars: bool, span_s: float) -> None:
    for alias, columns, values, tags in series:
        times = mdates.date2num([dt.datetime.fromtimestamp(row[0] / 1000, dt.UTC) for row in values])  # type: ignore[no-untyped-call]
        for index, column in enumerate(columns[1:], start=1):
            ys = [math.nan if row[index] is None else row[index] for row in values]
            label = _label(alias, tags, column)
            if bars:
                ax.bar(times, ys, width=max(span_s / 86400 / 150, 1e-6), label=label, alpha=0.7)
            else:
                ax.plot(times, ys, label=label, linewidth=1.5)
    ax.xaxis_date()
    ax.set_ylabel(unit)
    ax.legend(fontsize=7, loc="best")
    ax.tick_params(labelsize=7)


def _draw_xy(ax: Axes, series: list[Any]) -> None:
    for _, columns, values, tags in series:
        numeric = columns[1:]
        xs = [row[1] for row in values]
        for index, column in enumerate(numeric[1:], start=2):
            style = "--" if column.startswith("ci_") else "-"
            ax.plot(xs, [row[index] for row in values], style, label=f"{' '.join(tags.values())} {column}")
    ax.set_xlabel("capacity to silent failure (minutes of assistant audio)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)


def render(influx: InfluxQL, name: str, run_id: str, out: Path) -> Path:
    """Draw dashboard ``name`` for ``run_id`` into ``out``; returns the PNG's path."""
    board = load(name)
    start, end = run_range(influx, run_id)
    interval = f"{max(1, (end - start) // 1000 // 100)}s"
    variables = variables_for(influx, board, run_id, start, end)
    panels = board["panels"]
    height = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels) + TITLE_ROWS
    figure = plt.figure(figsize=(WIDTH_INCHES, height * ROW_INCHES))
    for panel in panels:
        grid = panel["gridPos"]
        rect = (grid["x"] / 24 + 0.01, 1 - (grid["y"] + grid["h"]) / height + 0.035,
                grid["w"] / 24 - 0.03, grid["h"] / height - 0.06)  # fmt: skip
        ax = figure.add_axes(rect)
        ax.set_title(panel["title"], fontsize=10, loc="left")
        series = _series(influx, panel, variables, start, end, interval)
        unit = UNITS.get(panel.get("fieldConfig", {}).get("defaults", {}).get("unit", ""), "")
        match panel["type"]:
            case "stat":
                _draw_stat(ax, series, unit)
            case "table":
                _draw_table(ax, series)
            case "xychart":
                _draw_xy(ax, series)
            case _:
                bars = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {}).get("drawStyle") == "bars"
                _draw_time(ax, series, unit, bars, (end - start) / 1000)
    figure.suptitle(f"{board['title']}: run {run_id}", fontsize=14, x=0.01, y=0.995, ha="left")
    out.mkdir(parents=True, exist_ok=True)
    path = out / name.replace(".json", ".png")
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana.render", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="InfluxDB URL (its /query endpoint serves InfluxQL)")
    parser.add_argument("--db", default="s2s", help="database (2.x: the DBRP-mapped name)")
    parser.add_argument("--token", default="", help="InfluxDB 2.x/3.x token")
    parser.add_argument("--user", default="", help="InfluxDB 1.x user")
    parser.add_argument("--password", default="", help="InfluxDB 1.x password")
    parser.add_argument("--run", required=True, help="run id")
    parser.add_argument("--out", type=Path, default=Path("dashboards-png"))
    args = parser.parse_args(argv)
    influx = InfluxQL(args.url, args.db, args.user, args.password, args.token)
    for name in dashboard_names():
        print(f"wrote {render(influx, name, args.run, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
