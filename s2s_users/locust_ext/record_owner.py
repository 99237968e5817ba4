"""What the record owner (the master, or a local run) has: every session's record, the live view, the report.

Batches from the users' side go into the ``Ledger`` (open sessions per worker, users started and done); finished
sessions are written to ``sessions.jsonl``, the live view and InfluxDB (through the ``RunPublisher``). A worker that
stops sending heartbeats loses its open sessions (recorded as lost). At the end of the run the master asks the
workers to stop their users and waits for the last records; then the report (headed by the run's description),
the final dashboard points, the gates (and their JUnit file) and the exit code.
"""

from __future__ import annotations

from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING

import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import gevent

from s2s_users.core.config import RunSettings
from s2s_users.core.exit_codes import ExitCode, RunHealth, harness_problems, verdict
from s2s_users.core.metrics.budget import CapacityLearner, CostMeter
from s2s_users.core.metrics.lag import PACING_FILE
from s2s_users.core.metrics.live import LiveView
from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.redact import redact_url
from s2s_users.core.reporting.gates import budget_result, gate_results
from s2s_users.core.reporting.junit import JUNIT_FILE, junit_xml
from s2s_users.core.reporting.render import render_text
from s2s_users.core.reporting.run_info import RUN_FILE, RunInfo
from s2s_users.core.reporting.summary import Report, build_report
from s2s_users.core.version import package_version
from s2s_users.io.reports import load_sessions, write_pacing, write_report_files, write_run_info, write_whole
from s2s_users.io.sinks.files import JsonlSessionSink
from s2s_users.io.sinks.influx import InfluxSink
from s2s_users.io.sinks.influx.points import RunLabels
from s2s_users.io.sinks.influx.publisher import RunDescription, RunPublisher
from s2s_users.locust_ext.master_watch import SILENCE_S
from s2s_users.locust_ext.relay import Batch, Ledger
from s2s_users.locust_ext.run_monitor import RunMonitor
from s2s_users.locust_ext.settings import gates, target_description

log = logging.getLogger("s2s_users")

LOST_CHECK_INTERVAL_S = 1.0
#: How often the owner refreshes the dashboards' summaries and survival curves in InfluxDB.
SUMMARY_INTERVAL_S = 5.0
#: How long the master waits at the end of a run for the last records of the workers' open sessions.
DRAIN_TIMEOUT_S = 30.0


class RecordOwner:
    """The records of a run, in the one process that sees them all. ``stop_workers_users`` asks workers to stop."""

    def __init__(self, environment: Any, stop_workers_users: Callable[[], None] | None = None) -> None:
        self.environment = environment
        self.stop_workers_users = stop_workers_users
        self.settings: RunSettings | None = None
        self.sink: JsonlSessionSink | None = None
        self.live = LiveView()
        self.ledger = self._new_ledger()
        self.publisher: RunPublisher | None = None
        self.monitor = RunMonitor(environment)
        self._ending = False
        self._watcher: Any = None
        self._publishing: Any = None
        self._strays: set[str] = set()
        self.cost = CostMeter(None)
        self.capacity = CapacityLearner()
        self.budget_reason: str | None = None
        """Why the run was stopped early by its budget (``--max-cost``), if it was."""
        self.incidents: list[str] = []
        """Lines for the report's run description (the preflight's warning...), until the run's report takes them."""
        self._influx: InfluxSink | None = None

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self, settings: RunSettings, influx: InfluxSink | None) -> None:
        self.settings = settings
        self._ending = False
        if self.sink is None or self.sink.run_dir != settings.report_dir:
            self.sink = JsonlSessionSink(settings.report_dir)
            self.live = LiveView()
        self.ledger = self._new_ledger()  # a new test from the web UI counts its own users
        self.live.set_open([])
        self.cost = CostMeter(settings.budget.max_cost_usd)
        self.capacity = CapacityLearner()
        self.budget_reason = None
        self.monitor.start()
        if self.stop_workers_users is not None and self._watcher is None:
            self._watcher = gevent.spawn(self._watch_workers)
        log.info("s2s: run %s, records in %s", settings.run_id, self.sink.path)
        self._influx = influx
        if influx is not None:
            self._start_publishing(settings, influx)

    def _new_ledger(self) -> Ledger:
        def on_open(old: SessionRecord | None, new: SessionRecord | None) -> None:
            self.live.replace_open(old, new)
            self.cost.replace_open(old, new)

        return Ledger(on_open=on_open)

    def stop(self) -> None:
        """Drain the workers (master), then the report, the final dashboard points and the gates."""
        self._drain_workers()
        self.monitor.stop()
        if self._publishing is not None:
            self._publishing.kill(block=False)
            self._publishing = None
        try:
            if self.sink is not None:
                self._finish(self.sink)
        finally:
            self.publisher = None

    def shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.kill(block=False)
            self._watcher = None

    def reset_live(self) -> None:
        """Locust's stats were reset (its Reset button, or ``--reset-stats`` after the ramp-up): so is the live
        view, so that the Sessions tab and the Statistics tab count from the same moment. Open sessions stay open;
        ``sessions.jsonl`` and the report keep the whole run."""
        self.live = LiveView()
        self.live.set_open(self.ledger.open_sessions())

    def _start_publishing(self, settings: RunSettings, influx: InfluxSink) -> None:
        run = RunLabels(settings.run_id, settings.turn_mode, settings.scenario)
        self.publisher = RunPublisher(influx, run, origin_ns=time.time_ns())
        description = RunDescription(
            models=settings.models,
            users=int(getattr(self.environment.runner, "target_user_count", 0) or 0),
            target=target_description(settings),
            version=package_version(),
        )
        self.publisher.started(description, time.time_ns())
        self._publishing = gevent.spawn(self._publish_live)

    def _publish_live(self) -> None:
        while self.publisher is not None:
            gevent.sleep(SUMMARY_INTERVAL_S)
            if self.publisher is not None:
                self.publisher.live(self.live, time.time_ns())

    def _finish(self, sink: JsonlSessionSink) -> None:
        sink.close()
        if not sink.path.exists() and not sink.unwritten:
            log.warning("s2s: no session finished in this run; no report written")
            self._decide_exit_code(None, RunHealth(sessions=0, lost_sessions=0, user_exceptions=0))
            return
        records = (load_sessions(sink.run_dir) if sink.path.exists() else []) + sink.unwritten
        assert self.settings is not None
        info = self.monitor.info(self.settings, records)
        incidents = (*self.incidents, *self._influx_incidents())
        self.incidents = []
        info = dataclasses.replace(info, health=dataclasses.replace(info.health, incidents=incidents))
        report = build_report(records, self.live.pacing)
        not_written = self._write_outputs(sink, report, records, info)
        if self.publisher is not None:
            self.publisher.final(report, records, time.time_ns())
            self.publisher.stopped(len(records), time.time_ns())
        print(render_text(report, info), file=sys.stdout, flush=True)
        if not not_written:
            print(f"s2s: report in {sink.run_dir / 'report.html'} (also report.md, report.json)", flush=True)
        health = dataclasses.replace(self.monitor.health(records), write_errors=tuple(not_written))
        self._decide_exit_code(report, health)

    def _influx_incidents(self) -> list[str]:
        """InfluxDB behind at the end of the run: the report says so (the sink's last line says what became of it)."""
        influx = self._influx
        if influx is None or (influx.outage is None and not influx.spool_points):
            return []
        where = f"InfluxDB at {redact_url(influx.settings.url)}"
        state = f"does not answer ({influx.outage})" if influx.outage is not None else "fell behind"
        return [f"{where} {state} at the end of the run: {influx.spool_points} points in the spool, {influx.written}"
                " written; the last influx line of the log says what became of the rest"]  # fmt: skip

    def _write_outputs(
        self, sink: JsonlSessionSink, report: Report, records: list[SessionRecord], info: RunInfo
    ) -> list[str]:
        """run.json, pacing.json and the report beside sessions.jsonl; what could not be written, one line each
        (a full disk: the run still ends, with the table on the terminal and exit code 1)."""
        not_written = []
        if sink.write_error is not None:
            not_written.append(
                f"{sink.path}: {len(sink.unwritten)} of {len(records)} session records ({sink.write_error})"
            )
        failed: list[str] = []
        error = ""
        writes: list[tuple[str, Callable[[], None]]] = [
            (RUN_FILE, lambda: write_run_info(sink.run_dir, info)),
            (PACING_FILE, lambda: write_pacing(sink.run_dir, self.live.pacing)),
            ("report.md, report.html, report.json", lambda: write_report_files(sink.run_dir, report, records, info)),
        ]
        for names, write in writes:
            try:
                write()
            except OSError as exc:
                failed.append(names)
                error = exc.strerror or str(exc)
        if failed:
            not_written.append(f"{', '.join(failed)} in {sink.run_dir} ({error})")
            log.error(
                "s2s: cannot write the report in %s (%s): the table below is the run's report; free space there "
                "and run again%s",
                sink.run_dir,
                error,
                "" if sink.write_error else f", or rebuild it with python -m s2s_users report {sink.run_dir}",
            )
        return not_written

    def _decide_exit_code(self, report: Report | None, health: RunHealth) -> None:
        """The gates, their JUnit file, and the exit code of a gated run (``core/exit_codes.py``)."""
        options = self.environment.parsed_options
        checks = gates(options)
        max_lost = getattr(options, "max_lost_sessions", None)
        results = gate_results(report, checks) if report is not None else []
        if self.settings is not None and self.settings.budget.max_cost_usd is not None:
            results.append(budget_result(self.settings.budget.max_cost_usd, self.cost.total_usd, self.budget_reason))
        reasons = [r.reason for r in results if r.reason is not None]
        for reason in reasons:
            log.error("s2s: gate failed: %s", reason)
        gated = checks.given or max_lost is not None or bool(self.settings and self.settings.budget.max_cost_usd)
        outcome = verdict(gated, reasons, health, max_lost)
        if outcome is None:
            return  # no gates: Locust's own rule decides
        assert self.settings is not None
        if gated:
            duration = time.time() - (self.monitor.started_at or time.time())
            junit = junit_xml(self.settings.run_id, results, harness_problems(health, max_lost), duration)
            try:
                self.settings.report_dir.mkdir(parents=True, exist_ok=True)
                write_whole(self.settings.report_dir / JUNIT_FILE, junit)
            except OSError as exc:
                log.error("s2s: cannot write %s in %s (%s)", JUNIT_FILE, self.settings.report_dir, exc.strerror or exc)
        for reason in outcome.reasons if outcome.code == ExitCode.HARNESS_BROKE else ():
            log.error("s2s: the harness broke: %s", reason)
        log.info("s2s: exit code %d (%s)", outcome.code, outcome.code.name.lower().replace("_", " "))
        self.environment.process_exit_code = int(outcome.code)

    # --- batches from the users' side -------------------------------------------------------------------

    def receive(self, node: str, batch: Batch) -> None:
        if self.settings is not None and batch.run_id and batch.run_id != self.settings.run_id:
            if node not in self._strays:
                self._strays.add(node)
                log.error(
                    "s2s: ignoring records from %s: its users play run %s, not this run (%s); "
                    "a worker left over from an earlier run: it stops by itself within %.0f s",
                    node, batch.run_id, self.settings.run_id, SILENCE_S,
                )  # fmt: skip
            return
        turns, records, warnings = self.ledger.receive(node, batch)
        for warning in warnings:
            log.warning("s2s: %s", warning)
        if batch.pacing:
            self.live.add_pacing(batch.worker or node, batch.pacing)
        if batch.hot_path:
            self.monitor.hot_paths[batch.worker or node] = batch.hot_path
        for event in turns:
            self.live.add_turn(event)
        for record in records:
            self._store(record)
        self._check_budget()
        self._maybe_end_run()

    def _check_budget(self) -> None:
        """``--max-cost``: once the estimate passes the budget, stop every worker's users and end the run."""
        if self.budget_reason is not None or not self.cost.over_budget:
            return
        self.budget_reason = (
            f"the --max-cost budget of {self.cost.limit_usd:.2f} USD was reached (estimate "
            f"{self.cost.total_usd:.4f} USD): every worker was stopped"
        )
        log.error("s2s: %s", self.budget_reason)
        self._end_run()

    def learned_capacity(self) -> dict[str, float]:
        return self.capacity.capacities()

    def reset_pacing(self) -> None:
        """``--reset-stats``: the pacing figures, as Locust's statistics, start again once every user is spawned
        (connecting many sessions at once is start-up work, not the load under test)."""
        self.live.pacing.clear()

    def _store(self, record: SessionRecord) -> None:
        if self.sink is None:  # a late record after a stop: still keep it
            assert self.settings is not None
            self.sink = JsonlSessionSink(self.settings.report_dir)
        failing = self.sink.write_error is not None
        self.sink.write_session(record)
        if not failing and self.sink.write_error is not None:
            log.error(
                "s2s: cannot write %s (%s): this and later session records are kept in memory for the end of the run;"
                " free space in %s",
                self.sink.path,
                self.sink.write_error,
                self.sink.run_dir,
            )
        self.live.add_session(record)
        self.cost.add_session(record)
        self.capacity.add_session(record)
        if self.publisher is not None:
            self.publisher.session(record)

    def _maybe_end_run(self) -> None:
        runner = self.environment.runner
        done = sum(self.ledger.users_done.values())
        if self._ending or not done or done < runner.target_user_count:
            return
        self._end_run()  # every user played all its sessions

    def _end_run(self) -> None:
        """End the run from the owner's side: quit when headless, stop the test in the web UI."""
        self._ending = True
        runner = self.environment.runner
        headless = bool(getattr(self.environment.parsed_options, "headless", False))
        gevent.spawn(runner.quit if headless else runner.stop)

    # --- workers that go away ---------------------------------------------------------------------------

    def _watch_workers(self) -> None:
        """Master: a worker that stopped answering (Locust marks it missing) loses its open sessions."""
        while True:
            gevent.sleep(LOST_CHECK_INTERVAL_S)
            runner = self.environment.runner
            if runner.state not in (STATE_SPAWNING, STATE_RUNNING):
                continue  # at the end of a run, _drain_workers settles the accounts
            for node, sessions in list(self.ledger.open.items()):
                client = runner.clients.get(node)
                if client is None or client.state == STATE_MISSING:
                    if sessions or self.ledger.unfinished_users(node):
                        self._lose(node, "the worker stopped sending heartbeats")

    def _lose(self, node: str, reason: str) -> None:
        records, unfinished_users = self.ledger.lose(node, reason)
        if records or unfinished_users:
            self.monitor.worker_lost(node)
            log.error(
                "s2s: worker %s lost (%s): %d open sessions recorded as lost, %d users will not finish",
                node,
                reason,
                len(records),
                unfinished_users,
            )
        for record in records:
            self._store(record)
        self._maybe_end_run()

    def _drain_workers(self) -> None:
        """Master, at test stop: have the workers stop their users, then wait for those sessions' records."""
        if self.stop_workers_users is None or not self.ledger.open_count():
            return
        log.info("s2s: waiting for the last records of %d open sessions", self.ledger.open_count())
        self.stop_workers_users()
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while self.ledger.open_count() and time.monotonic() < deadline:
            gevent.sleep(0.2)
        for node, sessions in list(self.ledger.open.items()):
            if sessions:
                self._lose(node, f"no record arrived within {DRAIN_TIMEOUT_S:.0f} s of the end of the run")
