"""The product's hooks on Locust's events, and its state on Locust's ``Environment`` (``environment.s2s``).

``install_hooks(events)`` is all a locustfile calls. Each Locust process then gets one ``S2SProcess``: the
``UserSide`` where users run (local runner, workers), the ``RecordOwner`` where records are kept (local runner,
master), and the process's InfluxDB sink and health reports. Workers send batches to the master as Locust custom
messages; a local run hands them to itself.
"""

from __future__ import annotations

from locust.runners import STATE_RUNNING, STATE_SPAWNING

import argparse
import copy
import logging
import sys
from typing import Any

import gevent

from s2s_users.core.config import RunSettings
from s2s_users.core.connections import connection_for
from s2s_users.core.exceptions import ConfigError
from s2s_users.core.exit_codes import ExitCode
from s2s_users.core.metrics.lag import LagHistogram
from s2s_users.core.preflight import Severity, judge
from s2s_users.core.redact import redact_url
from s2s_users.io.session import preflight
from s2s_users.io.sinks.influx import InfluxSink, check_connection
from s2s_users.io.transport import DEFAULT_TRANSPORT
from s2s_users.locust_ext import webui
from s2s_users.locust_ext.master_watch import BEACON_INTERVAL_S, MasterWatch
from s2s_users.locust_ext.options import NO_SHAPE, OPTIONS_BY_DEST, add_options
from s2s_users.locust_ext.record_owner import RecordOwner
from s2s_users.locust_ext.relay import Batch
from s2s_users.locust_ext.roles import LOCAL_NODE, is_master, is_worker, owns_records, runs_users, worker_name
from s2s_users.locust_ext.settings import influx_settings, run_settings
from s2s_users.locust_ext.shapes import install_shape, shape_settings
from s2s_users.locust_ext.user_side import UserSide, script_for

log = logging.getLogger("s2s_users")

MSG_BATCH = "s2s_batch"
MSG_STOP_USERS = "s2s_stop_users"
MSG_BEACON = "s2s_beacon"
HEALTH_INTERVAL_S = 5.0
#: Locust's Host field on a master whose workers each run their own embedded mock (on their own loopback).
MOCK_ON_EACH_WORKER = "embedded mock on each worker"


class S2SProcess:
    """Our part of one Locust process."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.users = UserSide(environment, self._deliver) if runs_users(environment) else None
        stop_workers = self._stop_workers_users if is_master(environment) else None
        self.owner = RecordOwner(environment, stop_workers) if owns_records(environment) else None
        self.influx: InfluxSink | None = None
        self._health: Any = None
        self.master_watch = MasterWatch()
        self._watchdog: Any = None

    def settings(self, options: Any = None) -> RunSettings:
        return run_settings(options if options is not None else self.environment.parsed_options)

    # --- start-up and the start form --------------------------------------------------------------------

    def validate(self) -> None:
        """At start-up: fail fast, with one line, on options, prompts or an InfluxDB that cannot work."""
        settings = self.settings()
        if self.owner is not None:
            # Pin the run id so that workers (which get the master's options) label records the same way.
            self.environment.parsed_options.run_id = settings.run_id
        # The master too: its report lists the same prompt folder, and with --processes its workers' one-line
        # errors would only make them go missing, and the master end the run with exit code 0 and no report.
        for mode in settings.turn_modes:
            script_for(settings, mode)
        if self.owner is not None:
            install_shape(self.environment)
            for model in settings.budget.prices.unpriced(settings.models):
                unpriced = f"no price for model {model!r}: its cost is not estimated (add it to a --prices file)"
                log.warning("s2s: %s", unpriced)
                self.owner.incidents.append(unpriced)
        influx = influx_settings(self.environment.parsed_options, settings.report_dir, "probe")
        if influx is not None:
            note = check_connection(influx, run_id=settings.run_id, worker=worker_name(self.environment))
            if note is not None and self.owner is not None:
                self.owner.incidents.append(note)
        options = self.environment.parsed_options
        if self.owner is not None and (getattr(options, "headless", False) or getattr(options, "autostart", False)):
            self.preflight(settings)  # the web UI's runs are checked when the form starts them
        if self.users is not None and not is_worker(self.environment):
            self.users.prepare(settings)  # a local run starts its mock now: the Host field can name it
        self.show_target(settings)

    def preflight(self, settings: RunSettings) -> None:
        """One handshake with ``--s2s-url`` (never the embedded mock) before users start: a target that cannot work
        refuses the run with one line (``ConfigError``); a 429 or 5xx only warns (see ``core/preflight.py``)."""
        if settings.url is None:
            return
        request, _ = connection_for(settings, settings.models[0], settings.turn_modes[0], settings.url)
        verdict = judge(preflight(request, DEFAULT_TRANSPORT), redact_url(settings.url), settings.protocol)
        if verdict.severity is Severity.REFUSE:
            raise ConfigError(verdict.message)
        if verdict.severity is Severity.WARN:
            log.warning("s2s: preflight: %s", verdict.message)
            if self.owner is not None:
                self.owner.incidents.append(f"preflight: {verdict.message}")
        else:
            log.info("s2s: preflight: %s", verdict.message)

    def show_target(self, settings: RunSettings) -> None:
        """Locust's Host field (web UI, reports) names the target: the URL without secrets, or the embedded mock."""
        if settings.url is not None:
            self.environment.host = redact_url(settings.url)
        elif self.users is not None and self.users.mock is not None:
            self.environment.host = self.users.mock.url
        elif is_master(self.environment):
            self.environment.host = MOCK_ON_EACH_WORKER

    def options_started_with(self) -> dict[str, Any]:
        """Our options as the process has them now (after ``validate`` pinned the run id)."""
        options = self.environment.parsed_options
        return {name: getattr(options, name) for name in OPTIONS_BY_DEST}

    def accept_form(self, values: dict[str, Any], locust_values: dict[str, Any]) -> None:
        """Options typed in the web UI's start form: checked as the command line's are, then applied.

        ``locust_values`` are Locust's own fields of the form (users, spawn rate), which a shape is checked with;
        Locust applies those itself.
        """
        candidate = copy.copy(self.environment.parsed_options)
        vars(candidate).update(values)
        settings = self.settings(candidate)
        name = getattr(candidate, "shape", NO_SHAPE)
        if name != NO_SHAPE:
            shape_settings(argparse.Namespace(**{**vars(candidate), **locust_values}), name)
        if self.owner is not None:
            self.preflight(settings)  # the form starts a test: its target must answer
        vars(self.environment.parsed_options).update(values)
        install_shape(self.environment, checked_with=candidate)  # before Locust's swarm route looks for a shape

    # --- a test -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """At test start: settings as the start form or the master left them; mock, sinks and owner ready."""
        settings = self.settings()
        self._start_influx(settings)
        if self.users is not None:
            self.users.start(settings, self.influx)
        if self.owner is not None:
            self.owner.start(settings, self.influx)
        if not is_worker(self.environment):
            self.show_target(settings)

    def stop(self) -> None:
        """At test stop: the users' last batch, the owner's report, then the InfluxDB flush."""
        try:
            if self.users is not None:
                self.users.stop()
            if self.owner is not None:
                self.owner.stop()
        finally:
            self._close_influx()

    def shutdown(self) -> None:
        if self._watchdog is not None:
            self._watchdog.kill(block=False)
            self._watchdog = None
        if self.users is not None:
            self.users.shutdown()
        if self.owner is not None:
            self.owner.shutdown()

    # --- InfluxDB: the sink and this process's health ---------------------------------------------------

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

    def _report_health(self) -> None:
        while self.influx is not None:
            gevent.sleep(HEALTH_INTERVAL_S)
            if self.influx is None:
                return
            lags = self.users.take_health_lags() if self.users is not None else LagHistogram()
            active = self.users.active_sessions if self.users is not None else 0
            cpu = getattr(self.environment.runner, "current_cpu_usage", None)
            self.influx.write_worker(active, lags.figures(), cpu)

    def _close_influx(self) -> None:
        if self._health is not None:
            self._health.kill(block=False)
            self._health = None
        if self.influx is not None:
            self.influx.close()
            if self.influx.summary is not None:
                print(self.influx.summary.message(), file=sys.stdout, flush=True)
            self.influx = None

    # --- between the users' side and the owner ----------------------------------------------------------

    def _deliver(self, batch: Batch) -> None:
        if is_worker(self.environment):
            self.environment.runner.send_message(MSG_BATCH, batch.to_wire())
        else:
            assert self.owner is not None and self.users is not None
            self.owner.receive(LOCAL_NODE, batch)
            self.users.learned_capacity = self.owner.learned_capacity()

    def _stop_workers_users(self) -> None:
        self.environment.runner.send_message(MSG_STOP_USERS, None)

    def on_batch_message(self, environment: Any, msg: Any, **_: Any) -> None:
        assert self.owner is not None
        self.owner.receive(str(msg.node_id), Batch.from_wire(msg.data))

    def on_spawning_complete(self, **_: Any) -> None:
        """``--reset-stats``: the pacing figures start again, on the record owner (what it has been sent) and where
        the users run (what their turns will send: only turns that begin from now on)."""
        if self.environment.reset_stats:
            self.on_reset_stats()

    def on_reset_stats(self, **_: Any) -> None:
        """Also the web UI's Reset button (in the web UI's process only: a worker's turns keep their window)."""
        if self.users is not None:
            self.users.restart_pacing()
        if self.owner is not None:
            self.owner.reset_pacing()

    def on_stop_users_message(self, environment: Any, msg: Any, **_: Any) -> None:
        assert self.users is not None
        self.users.stop_users()

    # --- a master that goes away, a worker of another run -----------------------------------------------

    def start_beacon(self) -> None:
        """Master: tell the workers, every few seconds, which run this master plays."""

        def beacon() -> None:
            while True:
                runner = self.environment.runner
                if runner.clients:
                    # The capacity learned so far goes with it: where workers warn sessions (--expected-capacity).
                    capacity = self.owner.learned_capacity() if self.owner is not None else {}
                    runner.send_message(
                        MSG_BEACON, {"run_id": self.environment.parsed_options.run_id, "capacity": capacity}
                    )
                gevent.sleep(BEACON_INTERVAL_S)

        self._watchdog = gevent.spawn(beacon)

    def start_watchdog(self) -> None:
        """Worker: stop the users and exit when the run's master is gone or another run's master took over."""

        def watch() -> None:
            while True:
                gevent.sleep(1.0)
                playing = self.users.settings.run_id if self.users and self.users.settings else None
                reason = self.master_watch.reason_to_stop(playing if self._playing() else None)
                if reason is not None:
                    log.error("s2s: stopping this worker: %s", reason)
                    self.environment.runner.quit()
                    return

        self._watchdog = gevent.spawn(watch)

    def _playing(self) -> bool:
        return self.environment.runner.state in (STATE_SPAWNING, STATE_RUNNING)

    def on_beacon_message(self, environment: Any, msg: Any, **_: Any) -> None:
        self.master_watch.beacon(str(msg.data["run_id"]))
        if self.users is not None:
            capacity = msg.data.get("capacity") or {}
            self.users.learned_capacity = {str(model): float(seconds) for model, seconds in capacity.items()}


def process_of(environment: Any) -> S2SProcess:
    """This process's ``S2SProcess`` (set by the ``init`` hook)."""
    process = getattr(environment, "s2s", None)
    if not isinstance(process, S2SProcess):
        raise RuntimeError("s2s_users hooks are not installed: call install_hooks(events) in the locustfile")
    return process


def user_side_of(environment: Any) -> UserSide:
    users = process_of(environment).users
    assert users is not None, "users run only where the runner runs users"
    return users


def install_hooks(events: Any) -> None:
    """Register the product's options and listeners on Locust's events (call once, from the locustfile)."""

    def _options(parser: Any, **_: Any) -> None:
        add_options(parser)

    def _init(environment: Any, web_ui: Any = None, **_: Any) -> None:
        process = S2SProcess(environment)
        environment.s2s = process
        try:
            process.validate()
            login = None
            if web_ui is not None:  # the process that serves the web UI (not workers, not headless runs)
                login = webui.web_login_from_env(bool(getattr(environment.parsed_options, "web_login", False)))
        except ConfigError as exc:
            # One write for the whole line: with --processes each forked worker prints it too, on the same stderr,
            # and print's two writes (text, then newline) let the lines run into each other.
            sys.stderr.write(f"error: {exc}\n")
            sys.stderr.flush()
            sys.exit(ExitCode.BAD_CONFIGURATION)
        if process.owner is not None:
            owner = process.owner
            environment.events.reset_stats.add_listener(lambda **_: owner.reset_live())
            environment.events.spawning_complete.add_listener(
                lambda **_: owner.reset_live() if environment.reset_stats else None
            )
        if web_ui is not None and process.owner is not None:
            webui.install(
                web_ui,
                lambda: owner.live,
                started_with=process.options_started_with(),
                accept=process.accept_form,
                login=login,
            )
        environment.events.spawning_complete.add_listener(process.on_spawning_complete)  # workers fire it too
        environment.events.reset_stats.add_listener(process.on_reset_stats)
        if is_master(environment):
            environment.runner.register_message(MSG_BATCH, process.on_batch_message)
            process.start_beacon()
        if is_worker(environment):
            environment.runner.register_message(MSG_STOP_USERS, process.on_stop_users_message, concurrent=True)
            environment.runner.register_message(MSG_BEACON, process.on_beacon_message)
            process.start_watchdog()

    def _test_start(environment: Any, **_: Any) -> None:
        try:
            process_of(environment).start()
        except ConfigError as exc:
            log.error("s2s: %s", exc)
            environment.process_exit_code = ExitCode.BAD_CONFIGURATION
            gevent.spawn(environment.runner.quit)

    def _test_stop(environment: Any, **_: Any) -> None:
        process_of(environment).stop()

    def _quitting(environment: Any, **_: Any) -> None:
        # On Ctrl-C or SIGTERM Locust fires `quitting` before it stops the users: stop them first, so that their
        # sessions end as harness.stopped (not as failures caused by our mock going away), the report is written
        # and the gates still decide the exit code.
        runner = environment.runner
        if runner is not None and runner.state in (STATE_SPAWNING, STATE_RUNNING):
            runner.stop()
        process = getattr(environment, "s2s", None)
        if isinstance(process, S2SProcess):
            process.shutdown()

    events.init_command_line_parser.add_listener(_options)
    events.init.add_listener(_init)
    events.test_start.add_listener(_test_start)
    events.test_stop.add_listener(_test_stop)
    events.quitting.add_listener(_quitting)
