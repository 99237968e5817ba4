"""What a process that runs users has: the script, the embedded mock, the users' questions, and the outbox.

Users ask it which model to play, where to connect and how; they tell it when sessions and turns end. What
happened is batched in the ``Outbox`` and delivered to the record owner about once a second (a Locust custom
message on a worker, a direct call in a local run).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import gevent

from s2s_users.core.config import RunSettings
from s2s_users.core.engine.script import Carrier, Script, build_script
from s2s_users.core.load_shapes import StartSpacer
from s2s_users.core.metrics.lag import LagHistogram, PacingWindow
from s2s_users.core.metrics.records import SessionLabels, SessionRecord, TurnRecord
from s2s_users.core.mock.profiles import DEFAULT_MOCK_API_KEY
from s2s_users.core.model_mix import model_sequence
from s2s_users.core.protocols import gemini_wire
from s2s_users.core.protocols.openai_wire import SAMPLE_RATE
from s2s_users.core.protocols.providers import MOCK_PATHS
from s2s_users.core.redact import redact_url
from s2s_users.core.version import hot_path
from s2s_users.io.evidence import EvidenceStore
from s2s_users.io.mockserver import MockServerProcess
from s2s_users.io.prompts import load_prompts
from s2s_users.io.pump import Pump
from s2s_users.io.sinks.influx import InfluxSink
from s2s_users.io.transport import DEFAULT_TRANSPORT, TransportOptions
from s2s_users.locust_ext.relay import Batch, HasProgress, Outbox
from s2s_users.locust_ext.roles import worker_index, worker_name

log = logging.getLogger("s2s_users")

TRUTH_PREFIX = "mock-truth-"
BATCH_INTERVAL_S = 1.0
DIRECT = TransportOptions(use_proxy=False)
#: Prompt audio rates other than OpenAI's 24 kHz.
INPUT_RATES = {"gemini": gemini_wire.INPUT_RATE}


@lru_cache(maxsize=8)
def _script(prompts_dir: Path | None, chunk_ms: int, trailing_silence_ms: int, carrier: Carrier, rate: int) -> Script:
    prompts = load_prompts(prompts_dir, rate)
    return build_script([(p.prompt_id, p.pcm) for p in prompts], rate, chunk_ms, trailing_silence_ms, carrier)


def script_for(settings: RunSettings, turn_mode: str) -> Script:
    """The prompts, at the protocol's input rate, cut and encoded once per process, rate and turn mode (checked at
    start-up: bad prompts fail fast).

    Server VAD needs silence after the prompt to hear its end: the carrier streams it (as a microphone would);
    without one, ``--vad-silence-ms`` of silence follows each prompt.
    """
    rate = INPUT_RATES.get(settings.protocol, SAMPLE_RATE)
    if turn_mode != "server_vad":
        return _script(settings.prompts_dir, settings.chunk_ms, 0, Carrier.OFF, rate)
    if settings.carrier is Carrier.OFF:
        return _script(settings.prompts_dir, settings.chunk_ms, settings.vad_silence_ms, Carrier.OFF, rate)
    return _script(settings.prompts_dir, settings.chunk_ms, 0, settings.carrier, rate)


@dataclass(frozen=True, slots=True)
class Assignment:
    """What a user plays: its model, turn mode and A/B arm (empty without an A/B test)."""

    model: str
    turn_mode: str
    arm: str


class UserSide:
    """The users' side of a run in one process. ``deliver`` hands a batch to the record owner."""

    def __init__(self, environment: Any, deliver: Callable[[Batch], None]) -> None:
        self.environment = environment
        self.deliver = deliver
        self.settings: RunSettings | None = None
        self.scripts: dict[str, Script] = {}
        self.mock: MockServerProcess | None = None
        self.influx: InfluxSink | None = None
        self.evidence: EvidenceStore | None = None
        """Where this process's sessions write their evidence (the run folder's ``evidence/``)."""
        self.outbox = Outbox(hot_path=hot_path())
        self.active_sessions = 0
        self.pacing = PacingWindow()
        """Every chunk lag of this process's turns (the sessions add each turn as it ends), until a batch takes it."""
        self._health_lags = LagHistogram()
        self._mock_key: tuple[object, ...] = ()
        self._batcher: Any = None
        self._users_assigned = 0
        self._spacer = StartSpacer()
        self.pump = Pump()
        """Drives this process's open connections in one greenlet (``io/pump.py``)."""
        self.learned_capacity: dict[str, float] = {}
        """Per model: the capacity to silent failure the run has measured so far (the record owner tells it), where
        sessions without ``--expected-capacity`` are warned."""
        self._rejections_logged: set[str] = set()
        self._frozen = False

    # --- lifecycle --------------------------------------------------------------------------------------

    def prepare(self, settings: RunSettings) -> None:
        """Before a test: the embedded mock up (so its URL is known), if the run uses it."""
        if settings.embedded_mock:
            self._ensure_mock(settings)

    def start(self, settings: RunSettings, influx: InfluxSink | None) -> None:
        if not self._frozen:
            # Everything alive now (Locust, gevent, the prompts, the web UI) lives as long as the process: out of
            # the collector's way, so that a full collection during the run scans only what the run made. Such
            # a collection holds the hub, every session's clock with it (Locust does this for --processes only).
            gc.collect()
            gc.freeze()
            self._frozen = True
        self.settings = settings
        self.influx = influx
        self.outbox.run_id = settings.run_id
        self.scripts = {mode: script_for(settings, mode) for mode in settings.turn_modes}
        self.evidence = EvidenceStore(settings.report_dir, int(settings.record_audio_max_mb * 1e6))
        self.outbox.worker = worker_name(self.environment)
        if settings.embedded_mock:
            self._ensure_mock(settings)
        else:
            log.info("s2s: target %s, protocol %s", redact_url(self.target_url()), settings.protocol)
        if self._batcher is None:
            self._batcher = gevent.spawn(self._send_batches)

    def stop(self) -> None:
        self.flush()
        self.influx = None

    def shutdown(self) -> None:
        if self._batcher is not None:
            self._batcher.kill(block=False)
            self._batcher = None
        self._stop_mock()

    def _ensure_mock(self, settings: RunSettings) -> None:
        # An Entra token for Azure is what the mock must accept as Bearer on Azure's paths.
        entra_token = settings.azure_ad_token or None
        key = (settings.mock_time_scale, settings.mock_scenario, settings.report_dir, entra_token)
        if self.mock is not None and self._mock_key == key:
            return
        self._stop_mock()
        settings.report_dir.mkdir(parents=True, exist_ok=True)
        truth = settings.report_dir / f"{TRUTH_PREFIX}{worker_name(self.environment)}.jsonl"
        self.mock = MockServerProcess(
            time_scale=settings.mock_time_scale,
            api_key=DEFAULT_MOCK_API_KEY,
            seed=worker_index(self.environment),  # otherwise every worker would replay identical sessions
            scenario=settings.mock_scenario,
            truth=truth,
            entra_token=entra_token,
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
        return self.mock.url_for(MOCK_PATHS[self.settings.protocol])

    def next_assignment(self) -> Assignment:
        """The next user's model, turn mode and A/B arm: models by their weights (evenly without), then each turn
        mode and each arm in turn over whole cycles of models, so users spread over every combination; workers
        start at their own offset."""
        assert self.settings is not None
        models, modes, arms = self.settings.models, self.settings.turn_modes, self.settings.arms
        order = model_sequence(models, self.settings.model_weights or (1,) * len(models))
        index = self._users_assigned + worker_index(self.environment)
        self._users_assigned += 1
        cycle = index // len(order)
        return Assignment(order[index % len(order)], modes[cycle % len(modes)], arms[cycle // len(modes) % len(arms)])

    def worker(self) -> str:
        return worker_name(self.environment)

    def log_rejection_once(self, message: str) -> None:
        if message not in self._rejections_logged:
            self._rejections_logged.add(message)
            log.error("s2s: connect.rejected: %s", message)

    # --- what users tell --------------------------------------------------------------------------------

    def user_started(self) -> None:
        self.outbox.user_started()

    def start_delay(self) -> float:
        """How long a user Locust just spawned waits before its first session, so that users start one by one at
        the spawn rate (``StartSpacer``); none under a load shape, whose rates are its own."""
        if getattr(self.environment, "shape_class", None) is not None:
            return 0.0
        rate = getattr(getattr(self.environment, "parsed_options", None), "spawn_rate", None)
        return self._spacer.delay(time.monotonic(), rate if isinstance(rate, int | float) else None)

    def session_started(self, session: HasProgress) -> str:
        self.active_sessions += 1
        return self.outbox.session_started(session)

    def turn_finished(self, labels: SessionLabels, key: str, session_id: str, turn: TurnRecord) -> None:
        self.outbox.turn_finished(key, labels.model, turn, labels.arm)
        if self.influx is not None:
            self.influx.write_turn(labels, session_id, turn)

    def session_finished(self, key: str, record: SessionRecord) -> None:
        self.active_sessions -= 1
        self.outbox.session_finished(key, record)

    def user_finished(self) -> None:
        self.outbox.user_done()
        self.flush()  # at once: the run may be waiting for this user

    # --- batches to the record owner --------------------------------------------------------------------

    def restart_pacing(self) -> None:
        """``--reset-stats``, once every user is spawned: from now on, the turns that begin (``PacingWindow``)."""
        self.pacing.restart(time.monotonic())  # the sessions' clock (``Conversation``'s ``now``)

    def take_health_lags(self) -> LagHistogram:
        """The chunk lags batched since the last call: this worker's window for its health point."""
        return self._health_lags.take()

    def flush(self) -> None:
        """Deliver what happened since the last batch."""
        lags = self.pacing.lags.take()
        self._health_lags.merge(lags)
        self.outbox.add_pacing(lags)
        batch = self.outbox.take()
        if batch is not None:
            self.deliver(batch)

    def _send_batches(self) -> None:
        while True:
            gevent.sleep(BATCH_INTERVAL_S)
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the relay must outlive a bad record; the next batch retries
                log.exception("s2s: could not send a batch of records to the master")

    def stop_users(self) -> None:
        """The master ends the run: stop our users now so that their sessions' records reach it."""
        runner = self.environment.runner
        runner.stop_users(dict(runner.user_classes_count))
        self.flush()
