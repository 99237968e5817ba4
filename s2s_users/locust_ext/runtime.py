"""Per-process state of a run and the Locust event listeners that manage it.

Who does what:
- processes that run users (local runner, workers) load the prompts, start the embedded mock when no
  ``--s2s-url`` is given, and hand every finished session to the record owner;
- the record owner (local runner, or the master) writes ``sessions.jsonl``, keeps the live view and the
  ledger of open sessions per worker, and at the end writes the report.
User processes batch what happened (``relay.Outbox``) about once a second; workers send the batch to the master
as a Locust custom message, the local runner hands it to itself. At the end of a run the master asks workers to
stop their users and waits for their last records; sessions of a worker that died are counted as lost.
"""

from __future__ import annotations

from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, LocalRunner, MasterRunner, WorkerRunner

import copy
import dataclasses
import logging
import sys
import time
from collections import deque
from functools import lru_cache
from pathlib import Path
from typing import Any

import gevent

from s2s_users.audio import load_prompts
from s2s_users.config import RunSettings, settings_from_options
from s2s_users.engine.script import Script, build_script
from s2s_users.exceptions import ConfigError
from s2s_users.locust_ext import webui
from s2s_users.locust_ext.options import DEFAULT_MODELS, OPTIONS_BY_DEST, add_options
from s2s_users.locust_ext.relay import HasSessionRecord, Ledger, Outbox
from s2s_users.metrics.live import LiveView
from s2s_users.metrics.records import SessionLabels, SessionRecord, TurnRecord
from s2s_users.mockserver import DEFAULT_MOCK_API_KEY, MockServerProcess
from s2s_users.mockserver.scenario import load_scenario
from s2s_users.protocols.openai_realtime import SAMPLE_RATE
from s2s_users.redact import redact_url
from s2s_users.reporting.files import load_sessions, write_report
from s2s_users.reporting.gates import Gates, check_gates
from s2s_users.reporting.render import render_text
from s2s_users.reporting.summary import percentile
from s2s_users.sinks.files import JsonlSessionSink
from s2s_users.sinks.influx import InfluxSettings, InfluxSink, check_connection
from s2s_users.sinks.influx.points import RunLabels
from s2s_users.sinks.influx.publisher import RunDescription, RunPublisher
from s2s_users.transport import DEFAULT_TRANSPORT, TransportOptions
from s2s_users.version import package_version

log = logging.getLogger("s2s_users")

TRUTH_PREFIX = "mock-truth-"
MSG_BATCH = "s2s_batch"
MSG_STOP_USERS = "s2s_stop_users"
LOCAL_NODE = "local"
WORKER_HEALTH_INTERVAL_S = 5.0
#: How often the owner refreshes the dashboards' summaries and survival curves in InfluxDB.
SUMMARY_INTERVAL_S = 5.0
DIRECT = TransportOptions(use_proxy=False)
BATCH_INTERVAL_S = 1.0
LOST_CHECK_INTERVAL_S = 1.0
#: How long the master waits at the end of a run for the last records of the workers' open sessions.
DRAIN_TIMEOUT_S = 30.0


def influx_settings(options: Any, spool_root: Path, worker: str) -> InfluxSettings | None:
    """InfluxDB settings from the options, or None when ``--influx-url`` is not given."""
    url = (getattr(options, "influx_url", "") or "").strip()
    if not url:
        return None
    return InfluxSettings(
        url=url,
        token=options.influx_token,
        org=options.influx_org,
        bucket=options.influx_bucket,
        spool_dir=spool_root / "influx-spool" / worker,
    )


def worker_name(environment: Any) -> str:
    """A low-cardinality label: ``local``, ``master``, or ``worker-N`` by the index the master gave the worker."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        return "master"
    return f"worker-{runner.worker_index}" if isinstance(runner, WorkerRunner) else "local"


@lru_cache(maxsize=8)
def _script(prompts_dir: Path | None, chunk_ms: int, vad_silence_ms: int) -> Script:
    prompts = load_prompts(prompts_dir, SAMPLE_RATE)
    return build_script([(p.prompt_id, p.pcm) for p in prompts], SAMPLE_RATE, chunk_ms, vad_silence_ms)


class Runtime:
    """The run as one process sees it."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.settings: RunSettings | None = None
        self.script: Script | None = None
        self.mock: MockServerProcess | None = None
        self.sink: JsonlSessionSink | None = None
        self.active_sessions = 0
        self.outbox = Outbox()
        self.ledger = Ledger()
        self.live = LiveView()
        self._ending = False
        self._batcher: Any = None
        self._mock_key: tuple[object, ...] = ()
        self._watcher: Any = None
        self.influx: InfluxSink | None = None
        self.publisher: RunPublisher | None = None
        self._publishing: Any = None
        self._recent_lags_ms: deque[float] = deque(maxlen=1000)
        self._health: Any = None
        self._users_assigned = 0
        self._rejections_logged: set[str] = set()

    # --- roles ------------------------------------------------------------------------------------------

    @property
    def runs_users(self) -> bool:
        return isinstance(self.environment.runner, LocalRunner | WorkerRunner)

    @property
    def owns_records(self) -> bool:
        return isinstance(self.environment.runner, LocalRunner | MasterRunner)

    # --- lifecycle --------------------------------------------------------------------------------------

    def _settings(self, options: Any = None) -> RunSettings:
        """The run's settings; with ``--mock-scenario``, its models and name fill in the defaults."""
        options = options if options is not None else self.environment.parsed_options
        settings = settings_from_options(options, DEFAULT_MOCK_API_KEY)
        if settings.mock_scenario is None or not settings.embedded_mock:
            return settings
        scenario = load_scenario(settings.mock_scenario)
        models = scenario.models if options.s2s_model == DEFAULT_MODELS else settings.models
        unknown = [m for m in models if m not in scenario.profiles]
        if unknown:
            raise ConfigError(
                f"--s2s-model {unknown[0]!r} is not in scenario {settings.mock_scenario}: "
                f"use one of {', '.join(sorted(scenario.profiles))}"
            )
        label = scenario.name if settings.scenario == "default" else settings.scenario
        return dataclasses.replace(settings, models=models, scenario=label)

    def validate(self) -> None:
        """At start-up: fail fast, with one line, on options or prompts that cannot work."""
        settings = self._settings()
        if isinstance(self.environment.runner, LocalRunner | MasterRunner):
            # Pin the run id so that workers (which get the master's options) label records the same way.
            self.environment.parsed_options.run_id = settings.run_id
        if not isinstance(self.environment.runner, MasterRunner):
            _script(settings.prompts_dir, settings.chunk_ms, self._vad_silence(settings))
        influx = influx_settings(self.environment.parsed_options, settings.report_dir, "probe")
        if influx is not None:
            check_connection(influx, run_id=settings.run_id, worker=worker_name(self.environment))

    def options_started_with(self) -> dict[str, Any]:
        """Our options as the process has them now (after ``validate`` pinned the run id)."""
        options = self.environment.parsed_options
        return {name: getattr(options, name) for name in OPTIONS_BY_DEST}

    def accept_form(self, values: dict[str, Any]) -> None:
        """Options typed in the web UI's start form: checked as the command line's are, then applied."""
        candidate = copy.copy(self.environment.parsed_options)
        vars(candidate).update(values)
        self._settings(candidate)
        vars(self.environment.parsed_options).update(values)

    def start(self) -> None:
        """At test start: settings as the start form or the master left them; mock and sink ready."""
        settings = self._settings()
        self.settings = settings
        self._ending = False
        if self.runs_users:
            self.script = _script(settings.prompts_dir, settings.chunk_ms, self._vad_silence(settings))
            if settings.embedded_mock:
                self._ensure_mock(settings)
            if self._batcher is None:
                self._batcher = gevent.spawn(self._send_batches)
        self._start_influx(settings)
        if self.owns_records:
            if self.sink is None or self.sink.run_dir != settings.report_dir:
                self.sink = JsonlSessionSink(settings.report_dir)
                self.live = LiveView()
            self.ledger = Ledger()  # a new test from the web UI counts its own users
            if isinstance(self.environment.runner, MasterRunner) and self._watcher is None:
                self._watcher = gevent.spawn(self._watch_workers)
            log.info("s2s: run %s, records in %s", settings.run_id, self.sink.path)
            self._start_publishing(settings)

    def stop(self) -> None:
        """At test stop: last batch (user processes); drain, close, report (owner); then the InfluxDB flush."""
        if self.runs_users:
            self.flush()
        if isinstance(self.environment.runner, MasterRunner):
            self._drain_workers()
        try:
            if self.owns_records and self.sink is not None:
                self._finish_records(self.sink)
        finally:
            self._close_influx()

    def _close_influx(self) -> None:
        for greenlet in (self._health, self._publishing):
            if greenlet is not None:
                greenlet.kill(block=False)
        self._health = self._publishing = None
        self.publisher = None
        if self.influx is not None:
            self.influx.close()
            if self.influx.summary is not None:
                print(self.influx.summary.message(), file=sys.stdout, flush=True)
            self.influx = None

    def _finish_records(self, sink: JsonlSessionSink) -> None:
        """The owner's end of a run: the report, the final dashboard points, and the gates."""
        sink.close()
        if not sink.path.exists():
            log.warning("s2s: no session finished in this run; no report written")
            return
        records = load_sessions(sink.run_dir)
        report = write_report(sink.run_dir, records)
        if self.publisher is not None:
            self.publisher.final(report, records, time.time_ns())
            self.publisher.stopped(len(records), time.time_ns())
        print(render_text(report), file=sys.stdout, flush=True)
        print(
            f"s2s: report in {sink.run_dir / 'report.html'} (also report.md, report.json)",
            file=sys.stdout,
            flush=True,
        )
        options = self.environment.parsed_options
        gates = Gates(
            silent_failure_rate=getattr(options, "check_silent_failure_rate", None),
            min_capacity_minutes=getattr(options, "check_min_capacity_minutes", None),
            ttfa_p95_ms=getattr(options, "check_ttfa_p95_ms", None),
        )
        reasons = check_gates(report, gates)
        for reason in reasons:
            log.error("s2s: gate failed: %s", reason)
        if reasons:
            self.environment.process_exit_code = 3

    def shutdown(self) -> None:
        for greenlet in (self._batcher, self._watcher):
            if greenlet is not None:
                greenlet.kill(block=False)
        self._batcher = self._watcher = None
        self._stop_mock()

    def _start_influx(self, settings: RunSettings) -> None:
        if self.influx is not None:
            return
        worker = worker_name(self.environment)
        influx = influx_settings(self.environment.parsed_options, settings.report_dir, worker)
        if influx is None:
            return
        self.influx = InfluxSink(influx, run_id=settings.run_id, worker=worker)
        self._health = gevent.spawn(self._report_health)
        log.info("s2s: writing to InfluxDB at %s, bucket %s", redact_url(influx.url), influx.bucket)

    def _start_publishing(self, settings: RunSettings) -> None:
        """Owner: summaries, survival curves and every session record to InfluxDB, and the start annotation."""
        if self.influx is None or self.publisher is not None:
            return
        run = RunLabels(settings.run_id, settings.turn_mode, settings.scenario)
        self.publisher = RunPublisher(self.influx, run, origin_ns=time.time_ns())
        self.publisher.started(
            RunDescription(
                models=settings.models,
                users=int(getattr(self.environment.runner, "target_user_count", 0) or 0),
                target=self._target_description(settings),
                version=package_version(),
            ),
            time.time_ns(),
        )
        self._publishing = gevent.spawn(self._publish_live)

    def _publish_live(self) -> None:
        while self.publisher is not None:
            gevent.sleep(SUMMARY_INTERVAL_S)
            if self.publisher is not None:
                self.publisher.live(self.live, time.time_ns())

    def _target_description(self, settings: RunSettings) -> str:
        if settings.url is not None:
            return redact_url(settings.url)
        scenario = f" ({settings.mock_scenario})" if settings.mock_scenario else ""
        return f"embedded mock{scenario}"

    def _report_health(self) -> None:
        while self.influx is not None:
            gevent.sleep(WORKER_HEALTH_INTERVAL_S)
            if self.influx is None:
                return
            lags = list(self._recent_lags_ms)
            cpu = getattr(self.environment.runner, "current_cpu_usage", None)
            self.influx.write_worker(self.active_sessions, percentile(lags, 50), percentile(lags, 95), cpu)

    @staticmethod
    def _vad_silence(settings: RunSettings) -> int:
        return settings.vad_silence_ms if settings.turn_mode == "server_vad" else 0

    def _ensure_mock(self, settings: RunSettings) -> None:
        key = (settings.mock_time_scale, settings.mock_scenario, settings.report_dir)
        if self.mock is not None and self._mock_key == key:
            return
        self._stop_mock()
        # Each worker's mock gets its own seed: otherwise every worker would replay identical sessions.
        index = getattr(self.environment.runner, "worker_index", 0)
        settings.report_dir.mkdir(parents=True, exist_ok=True)
        truth = settings.report_dir / f"{TRUTH_PREFIX}{worker_name(self.environment)}.jsonl"
        self.mock = MockServerProcess(
            time_scale=settings.mock_time_scale,
            api_key=DEFAULT_MOCK_API_KEY,
            seed=index,
            scenario=settings.mock_scenario,
            truth=truth,
        )
        self.mock.start()
        self._mock_key = key
        scenario = f", scenario {settings.mock_scenario}" if settings.mock_scenario else ""
        log.info("s2s: embedded mock realtime server at %s%s; truth log %s", self.mock.url, scenario, truth)

    def _stop_mock(self) -> None:
        if self.mock is not None:
            self.mock.stop()
            self.mock = None

    # --- what users ask ---------------------------------------------------------------------------------

    @property
    def transport(self) -> TransportOptions:
        """The embedded mock is on loopback: never through a proxy the environment may name."""
        assert self.settings is not None
        return DIRECT if self.settings.embedded_mock else DEFAULT_TRANSPORT

    def target_url(self) -> str:
        assert self.settings is not None
        if self.settings.url is not None:
            return self.settings.url
        assert self.mock is not None
        return self.mock.url

    def next_model(self) -> str:
        """Spread users evenly over the models; workers start at their own offset."""
        assert self.settings is not None
        offset = getattr(self.environment.runner, "worker_index", 0)
        model = self.settings.models[(self._users_assigned + offset) % len(self.settings.models)]
        self._users_assigned += 1
        return model

    def log_rejection_once(self, message: str) -> None:
        if message not in self._rejections_logged:
            self._rejections_logged.add(message)
            log.error("s2s: connect.rejected: %s", message)

    def user_started(self) -> None:
        self.outbox.user_started()

    def session_started(self, session: HasSessionRecord) -> str:
        self.active_sessions += 1
        return self.outbox.session_started(session)

    def turn_finished(self, labels: SessionLabels, key: str, session_id: str, turn: TurnRecord) -> None:
        self._recent_lags_ms.append(turn.pacing_lag_ms)
        self.outbox.turn_finished(key, labels.model, turn)
        if self.influx is not None:
            self.influx.write_turn(labels, session_id, turn)

    def session_finished(self, key: str, record: SessionRecord) -> None:
        self.active_sessions -= 1
        self.outbox.session_finished(key, record)

    def user_finished(self) -> None:
        self.outbox.user_done()
        self.flush()  # at once: the run may be waiting for this user

    # --- user processes: batches to the record owner ----------------------------------------------------

    def flush(self) -> None:
        """Send what happened since the last batch (a custom message on workers, a direct call locally)."""
        batch = self.outbox.take()
        if batch is None:
            return
        if isinstance(self.environment.runner, WorkerRunner):
            self.environment.runner.send_message(MSG_BATCH, batch)
        else:
            self._receive(LOCAL_NODE, batch)

    def _send_batches(self) -> None:
        while True:
            gevent.sleep(BATCH_INTERVAL_S)
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the relay must outlive a bad record; the next batch retries
                log.exception("s2s: could not send a batch of records to the master")

    def on_stop_users_message(self, environment: Any, msg: Any, **_: Any) -> None:
        """The master ends the run: stop our users now so that their sessions' records reach it."""
        runner = self.environment.runner
        runner.stop_users(dict(runner.user_classes_count))
        self.flush()

    # --- record owner -----------------------------------------------------------------------------------

    def on_batch_message(self, environment: Any, msg: Any, **_: Any) -> None:
        self._receive(str(msg.node_id), msg.data)

    def _receive(self, node: str, batch: dict[str, Any]) -> None:
        turns, records, warnings = self.ledger.receive(node, batch)
        for warning in warnings:
            log.warning("s2s: %s", warning)
        for event in turns:
            self.live.add_turn(event)
        for record in records:
            self._store(record)
        self.live.set_open(self.ledger.open_snapshots())
        self._maybe_end_run()

    def _store(self, record: SessionRecord) -> None:
        if self.sink is None:  # a late record after a stop: still keep it
            assert self.settings is not None
            self.sink = JsonlSessionSink(self.settings.report_dir)
        self.sink.write_session(record)
        self.live.add_session(record)
        if self.publisher is not None:
            self.publisher.session(record)

    def _maybe_end_run(self) -> None:
        runner = self.environment.runner
        done = sum(self.ledger.users_done.values())
        if self._ending or not done or done < runner.target_user_count:
            return
        # Every user played all its sessions: end the run (quit when headless, stop in the web UI).
        self._ending = True
        headless = bool(getattr(self.environment.parsed_options, "headless", False))
        gevent.spawn(runner.quit if headless else runner.stop)

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
            log.error(
                "s2s: worker %s lost (%s): %d open sessions recorded as lost, %d users will not finish",
                node,
                reason,
                len(records),
                unfinished_users,
            )
        for record in records:
            self._store(record)
        self.live.set_open(self.ledger.open_snapshots())
        self._maybe_end_run()

    def _drain_workers(self) -> None:
        """Master, at test stop: have the workers stop their users, then wait for those sessions' records."""
        if not self.ledger.open_count():
            return
        log.info("s2s: waiting for the last records of %d open sessions", self.ledger.open_count())
        self.environment.runner.send_message(MSG_STOP_USERS, None)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while self.ledger.open_count() and time.monotonic() < deadline:
            gevent.sleep(0.2)
        for node, sessions in list(self.ledger.open.items()):
            if sessions:
                self._lose(node, f"no record arrived within {DRAIN_TIMEOUT_S:.0f} s of the end of the run")


RUNTIME: Runtime | None = None


def current() -> Runtime:
    assert RUNTIME is not None, "s2s_users hooks are not installed: call install_hooks(events) in the locustfile"
    return RUNTIME


def install_hooks(events: Any) -> None:
    """Register the product's options and listeners on Locust's events (call once, from the locustfile)."""

    def _options(parser: Any, **_: Any) -> None:
        add_options(parser)

    def _init(environment: Any, web_ui: Any = None, **_: Any) -> None:
        global RUNTIME
        RUNTIME = Runtime(environment)
        try:
            RUNTIME.validate()
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
        if web_ui is not None:
            webui.install(
                web_ui,
                lambda: current().live,
                lambda: time.strftime("%H:%M:%S"),
                started_with=RUNTIME.options_started_with(),
                accept=RUNTIME.accept_form,
            )
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            runner.register_message(MSG_BATCH, RUNTIME.on_batch_message)
        if isinstance(runner, WorkerRunner):
            runner.register_message(MSG_STOP_USERS, RUNTIME.on_stop_users_message, concurrent=True)

    def _test_start(environment: Any, **_: Any) -> None:
        try:
            current().start()
        except ConfigError as exc:
            log.error("s2s: %s", exc)
            gevent.spawn(environment.runner.quit)

    def _test_stop(environment: Any, **_: Any) -> None:
        current().stop()

    def _quitting(environment: Any, **_: Any) -> None:
        # On Ctrl-C or SIGTERM Locust fires `quitting` before it stops the users: stop them first, so that their
        # sessions end as harness.stopped (not as failures caused by our mock going away), the report is written
        # and the gates still decide the exit code.
        runner = environment.runner
        if runner is not None and runner.state in (STATE_SPAWNING, STATE_RUNNING):
            runner.stop()
        if RUNTIME is not None:
            RUNTIME.shutdown()

    events.init_command_line_parser.add_listener(_options)
    events.init.add_listener(_init)
    events.test_start.add_listener(_test_start)
    events.test_stop.add_listener(_test_stop)
    events.quitting.add_listener(_quitting)
