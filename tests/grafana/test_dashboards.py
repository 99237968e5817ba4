"""The Grafana dashboards, proven against a real InfluxDB after a real distributed run.

The run: a master and two workers against their embedded mocks, writing to InfluxDB; ``gpt-realtime-2`` sessions
reach the seed's ceiling (a silent failure) and one worker is killed mid-run (its open sessions are lost). Then
every query of every panel, variable and annotation is run as Grafana would send it, and the numbers the
dashboards show are compared with the report's.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from grafana.queries import InfluxQL, PanelQuery, dashboard_names, fill, queries, rows, selected_columns
from grafana.render import render
from s2s_users.core.metrics.survival import kaplan_meier
from tests.integration.conftest import ROOT
from tests.integration.test_endurance_run import FAST
from tests.support.cluster import Cluster
from tests.support.influx import PASSWORD, USER, InfluxService

ALL_QUERIES = [query for name in dashboard_names() for query in queries(name)]


@dataclass
class SoakRun:
    report: dict[str, Any]
    sessions: list[dict[str, Any]]
    influxql: InfluxQL
    variables: dict[str, list[str]]
    start_ms: int
    end_ms: int

    def run(self, query: str) -> list[dict[str, Any]]:
        return rows(self.influxql.run(fill(query, self.variables, self.start_ms, self.end_ms, "5s")))


@pytest.fixture(scope="module")
def soak(influx_service: InfluxService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoakRun]:
    database = "s2s_dashboards"
    influx_service.start_influx()
    influx_service.create_database(database)
    cluster = Cluster(tmp_path_factory.mktemp("soak") / "run")
    start_ms = int(time.time() * 1000)
    try:
        cluster.start(
            "-u", "6", "-r", "6", "--sessions-per-user", "1", "--turns", "40", "--run-time", "4m", *FAST,
            "--influx-url", influx_service.url, "--influx-token", influx_service.token, "--influx-org", "-",
            "--influx-bucket", database,
        )  # fmt: skip
        victim = cluster.workers[1]
        deadline = time.monotonic() + 60
        while not psutil.Process(victim.pid).children() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(4)  # a few turns played and reported
        victim.send_signal(signal.SIGKILL)
        run = cluster.wait()
    finally:
        cluster.kill_all()
    assert run.returncode == 0, run.stderr[-3000:]
    sessions = run.sessions()
    yield SoakRun(
        report=json.loads((run.report_dir / "report.json").read_text()),
        sessions=sessions,
        influxql=InfluxQL(influx_service.influx_url, database, USER, PASSWORD),
        variables={
            "run": [sessions[0]["run_id"]],
            "model": ["gpt-realtime", "gpt-realtime-2"],
            "turn_mode": ["manual"],
            "worker": ["master", "worker-0", "worker-1"],
            "session": [next(s["session_id"] for s in sessions if s["silent_failure_turn"] is not None)],
        },
        start_ms=start_ms - 60_000,
        end_ms=int(time.time() * 1000) + 60_000,
    )


def test_the_committed_dashboards_are_what_the_builder_makes() -> None:
    built = subprocess.run([sys.executable, "-m", "grafana.build", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    assert dashboard_names() == ["s2s-load-generator.json", "s2s-session.json", "s2s-soak-overview.json"]


def test_every_query_is_influxql_on_the_provisioned_data_source() -> None:
    assert len(ALL_QUERIES) >= 30
    for name in dashboard_names():
        board = json.loads((ROOT / "grafana" / "dashboards" / name).read_text())
        targets = [t for panel in board["panels"] for t in panel["targets"]]
        assert all(t["rawQuery"] and t["datasource"] == {"type": "influxdb", "uid": "s2s-influxdb"} for t in targets)
        assert {v["name"] for v in board["templating"]["list"]} >= {"run"}


def test_the_run_had_a_silent_failure_and_a_lost_worker(soak: SoakRun) -> None:
    outcomes = [s["outcome"] for s in soak.sessions]
    assert "lost" in outcomes and any(s["silent_failure_turn"] is not None for s in soak.sessions)


@pytest.mark.parametrize("query", ALL_QUERIES, ids=lambda q: f"{q.dashboard}:{q.source}:{q.ref_id}")
def test_every_query_returns_rows_with_the_columns_its_panel_expects(soak: SoakRun, query: PanelQuery) -> None:
    found = soak.run(query.query)
    assert found, f"no rows for {query.source}: {fill(query.query, soak.variables, soak.start_ms, soak.end_ms, '5s')}"
    columns = set(found[0])
    assert set(selected_columns(query.query)) <= columns, (query.source, columns)


def _overview_table(soak: SoakRun) -> dict[str, dict[str, Any]]:
    (query,) = [q for q in queries("s2s-soak-overview.json") if q.source.startswith("Per model")]
    return {row["model"]: row for row in soak.run(query.query)}


def test_the_per_model_table_shows_the_reports_numbers(soak: SoakRun) -> None:
    table = _overview_table(soak)
    assert set(table) == {row["model"] for row in soak.report["models"]}
    for model in soak.report["models"]:
        shown = table[model["model"]]
        assert shown["final"] is True
        assert shown["sessions"] == model["sessions"]
        assert shown["turns ok"] == model["turns_completed"]
        assert shown["turns failed"] == model["turns_failed"]
        assert shown["silent failures"] == model["silent_failure_sessions"]
        assert shown["lost"] == model["lost_sessions"] and shown["censored"] == model["censored_sessions"]
        assert shown["audio min"] == pytest.approx(model["total_audio_min"])
        assert shown["TTFA p50 ms"] == pytest.approx(model["ttfa_p50_ms"])
        assert shown["TTFA p95 ms"] == pytest.approx(model["ttfa_p95_ms"])
        assert shown["cost USD"] == pytest.approx(model["cost_usd"])
        median = model["silent_capacity_median_s"]
        assert shown["capacity min"] == (None if median is None else pytest.approx(median / 60))
        low, high = model["silent_capacity_ci"]
        assert shown["CI low"] == (None if low is None else pytest.approx(low / 60))
        assert shown["CI high"] == (None if high is None else pytest.approx(high / 60))


def test_the_stat_panels_show_the_reports_numbers(soak: SoakRun) -> None:
    stats = {q.source: q for q in queries("s2s-soak-overview.json") if q.panel_type == "stat"}
    by_model = {row["model"]: row for row in soak.report["models"]}
    silent = {row["model"]: row["silent_failure_sessions"] for row in soak.run(stats["Silent failures"].query)}
    assert silent == {model: row["silent_failure_sessions"] for model, row in by_model.items()}
    capacity = {row["model"]: row["capacity_median_min"] for row in soak.run(stats["Capacity to silent failure"].query)}
    failing = by_model["gpt-realtime-2"]["silent_capacity_median_s"]
    assert capacity["gpt-realtime-2"] == pytest.approx(failing / 60)
    assert 4.5 < capacity["gpt-realtime-2"] < 5.5  # the seed's ceiling: about 5 minutes of assistant audio
    active = {row["model"]: row["active"] for row in soak.run(stats["Active sessions"].query)}
    assert set(active.values()) == {0}  # the run has ended


def test_the_survival_panel_draws_the_reports_curve(soak: SoakRun) -> None:
    (query,) = [q for q in queries("s2s-soak-overview.json") if q.panel_type == "xychart"]
    shown: dict[str, set[tuple[float, float]]] = {}
    for row in soak.run(query.query):
        shown.setdefault(row["model"], set()).add((round(row["capacity_min"] * 60, 4), row["survival"]))
    for model in ("gpt-realtime", "gpt-realtime-2"):
        mine = [s for s in soak.sessions if s["model"] == model]
        curve = kaplan_meier(
            [s["capacity_to_silent_failure_s"] for s in mine], [not s["silent_censored"] for s in mine]
        )
        after_drops = {(round(t, 4), s) for t, s in zip(curve.times, curve.survival, strict=True)}
        assert after_drops <= shown[model] and (0.0, 1.0) in shown[model]
        assert {s for _, s in shown[model]} == {1.0, *curve.survival}


def test_every_session_including_the_lost_ones_is_in_influxdb_once(soak: SoakRun) -> None:
    written = soak.run('SELECT "session_id", "outcome" FROM "s2s_session" WHERE "run_id" =~ /^$run$/')
    assert sorted(row["session_id"] for row in written) == sorted(s["session_id"] for s in soak.sessions)
    lost = [row for row in written if row["outcome"] == "lost"]
    assert len(lost) == sum(row["lost_sessions"] for row in soak.report["models"]) > 0


def test_the_run_is_annotated_at_its_start_and_stop(soak: SoakRun) -> None:
    (query,) = [q for q in queries("s2s-soak-overview.json") if q.panel_type == "annotation"]
    events = soak.run(query.query)
    assert [row["event"] for row in events] == ["start", "stop"]
    assert "gpt-realtime,gpt-realtime-2" in events[0]["text"] and "6 users" in events[0]["text"]
    assert f"{len(soak.sessions)} sessions" in events[1]["text"]


def test_every_dashboard_renders_to_a_picture_from_its_queries(soak: SoakRun, tmp_path: Path) -> None:
    pictures = [render(soak.influxql, name, soak.variables["run"][0], tmp_path) for name in dashboard_names()]
    for picture in pictures:
        print(f"picture: {picture}")
        assert picture.stat().st_size > 30_000
