"""The InfluxDB sink: every turn, session and worker-health record as a point, written off the users' path.

Three layers, top to bottom:

* **Points** (pure): ``turn_point``, ``session_point``, ``worker_point`` and ``to_points`` turn records into
  line protocol with low-cardinality tags only (DESIGN §6) and an explicit nanosecond timestamp on every
  point. InfluxDB keys a point by measurement + tag set + time, so two points of one series with the same
  time overwrite each other. Session id and turn index are fields, not tags, so turns of two sessions with
  equal labels *are* one series: timestamps are the record's time on a microsecond grid plus a deterministic
  0-999 ns spread taken from the session id and turn index, and ``UniqueTimes`` nudges any remaining
  collision by a nanosecond.
* **Writer** (``InfluxWriter``): one synchronous HTTP write through ``influxdb-client`` (v2 write API, so it
  serves InfluxDB 2.x, 3.x and 1.8+ with ``db/rp`` as bucket and ``user:password`` as token), failures sorted
  into *retry later* (unreachable, timeout, 5xx, 429, and 401/403/404 mid-run) and *rejected* (other 4xx).
* **Sink** (``InfluxSink``): ``write_turn``/``write_session``/``write_worker`` only append to an in-memory
  queue. A background writer (an OS thread; a greenlet when the process is gevent-patched) flushes every
  ``flush_interval_s``: it first replays the on-disk spool oldest first, then posts new points in batches.
  While InfluxDB misbehaves, batches go to the bounded spool (``spool.py``) and are replayed in order once it
  answers. ``close()`` flushes within ``close_deadline_s`` and leaves a ``SinkSummary``.

Start-up: ``check_connection(settings)`` writes one ``s2s_probe`` point and turns 401/404/unreachable into a
one-line ``ConfigError``. The token is never printed, logged or put in a message.

Replay a spool left on disk::

    S2S_INFLUX_TOKEN=... python -m s2s_users.sinks.influx replay DIR --url URL --org ORG --bucket BUCKET
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision

from s2s_users.exceptions import ConfigError
from s2s_users.metrics.records import SessionLabels, SessionRecord, TurnRecord
from s2s_users.redact import redact_url
from s2s_users.sinks.spool import Spool, spool_dirs

log = logging.getLogger(__name__)

TURN_MEASUREMENT = "s2s_turn"
SESSION_MEASUREMENT = "s2s_session"
WORKER_MEASUREMENT = "s2s_worker"
PROBE_MEASUREMENT = "s2s_probe"

ENV_URL = "S2S_INFLUX_URL"
ENV_TOKEN = "S2S_INFLUX_TOKEN"
ENV_ORG = "S2S_INFLUX_ORG"
ENV_BUCKET = "S2S_INFLUX_BUCKET"

REPLAY_COMMAND = "python -m s2s_users.sinks.influx replay"

_MAX_STRING = 1024  # longer string fields (error text) are cut: a detail, not a payload
_NONE_TAG = "none"  # tag value for a missing label (line protocol has no empty tag values)


# --- settings and summary ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InfluxSettings:
    """Where and how to write. ``token`` never shows in ``repr``; ``spool_dir``: one per run and worker."""

    url: str
    token: str = field(repr=False)
    org: str
    bucket: str
    spool_dir: Path
    flush_interval_s: float = 1.0
    batch_size: int = 5000
    max_spool_bytes: int = 512 * 1024 * 1024
    close_deadline_s: float = 10.0
    request_timeout_s: float = 10.0
    max_backoff_s: float = 10.0


@dataclass(frozen=True, slots=True)
class SinkSummary:
    """What became of every point, at close."""

    written: int
    spooled: int
    left_on_disk: int
    dropped: int
    spool_dir: Path
    rejected: int = 0
    in_flight: int = 0

    @property
    def complete(self) -> bool:
        """True when every point reached InfluxDB."""
        return self.left_on_disk == 0 and self.dropped == 0 and self.rejected == 0 and self.in_flight == 0

    def message(self) -> str:
        """One line for the end of a run."""
        text = f"influx: {self.written} points written"
        if self.spooled:
            text += f" ({self.spooled} went through the spool)"
        text += f", {self.left_on_disk} left on disk"
        if self.left_on_disk:
            text += f" in {self.spool_dir}: replay with {REPLAY_COMMAND} {self.spool_dir}"
        if self.dropped:
            text += f"; {self.dropped} DROPPED (spool full)"
        if self.rejected:
            text += f"; {self.rejected} rejected by InfluxDB (kept in {self.spool_dir / REJECTED_DIR})"
        if self.in_flight:
            text += f"; {self.in_flight} still in flight at the close deadline"
        return text


# --- points (pure) ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinePoint:
    """One point: ``series`` is the escaped ``measurement,tag=value...``, ``fields`` the escaped field set."""

    series: str
    fields: str
    time_ns: int

    def line(self) -> str:
        return f"{self.series} {self.fields} {self.time_ns}"


class _Fields:
    """Typed field set: each field keeps one line-protocol type whatever Python type it arrives as."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def real(self, key: str, value: float | None) -> None:
        if value is None or isinstance(value, bool):
            return
        number = float(value)
        if math.isfinite(number):
            self.parts.append(f"{_escape_key(key)}={number!r}")

    def integer(self, key: str, value: int | None) -> None:
        if value is not None and not isinstance(value, bool):
            self.parts.append(f"{_escape_key(key)}={int(value)}i")

    def flag(self, key: str, value: bool | None) -> None:
        if value is not None:
            self.parts.append(f"{_escape_key(key)}={'true' if value else 'false'}")

    def text(self, key: str, value: str | None) -> None:
        if value is not None:
            self.parts.append(f'{_escape_key(key)}="{_escape_string(value)}"')

    def render(self) -> str:
        if not self.parts:
            raise ValueError("a point needs at least one field")
        return ",".join(self.parts)


def _escape_key(text: str) -> str:
    """Measurement, tag key, tag value, field key: escape the separators; control characters become spaces."""
    text = "".join(" " if ch in "\n\r\t" else ch for ch in text)
    if text.endswith("\\"):
        text += " "  # a trailing backslash would escape the separator after it
    return text.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_string(text: str) -> str:
    text = " ".join(text[:_MAX_STRING].splitlines())
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _series(measurement: str, tags: dict[str, str | None]) -> str:
    parts = [_escape_key(measurement)]
    for key in sorted(tags):
        value = tags[key]
        parts.append(f"{_escape_key(key)}={_escape_key(value) if value else _NONE_TAG}")
    return ",".join(parts)


def _label_tags(labels: SessionLabels) -> dict[str, str | None]:
    return {
        "run_id": labels.run_id,
        "model": labels.model,
        "provider": labels.provider,
        "voice": labels.voice,
        "turn_mode": labels.turn_mode,
        "scenario": labels.scenario,
        "worker": labels.worker,
    }


def time_ns(seconds: float, key: str = "") -> int:
    """Epoch seconds on a microsecond grid, plus a deterministic 0-999 ns spread taken from ``key``."""
    spread = zlib.crc32(key.encode("utf-8")) % 1000 if key else 0
    return round(seconds * 1_000_000) * 1000 + spread


def turn_end_s(turn: TurnRecord) -> float:
    """When the turn ended: its start, plus the user's audio, plus the response (or first audio) time."""
    after_audio_ms = 0.0
    for candidate in (turn.response_ms, turn.ttfa_ms):
        if candidate is not None and math.isfinite(candidate) and candidate > 0:
            after_audio_ms = candidate
            break
    return turn.started_at + turn.input_audio_s + after_audio_ms / 1000


def turn_point(labels: SessionLabels, session_id: str, turn: TurnRecord) -> LinePoint:
    """``s2s_turn``: tags are the session labels and the outcome; everything else is a field."""
    fields = _Fields()
    fields.text("session_id", session_id)
    fields.integer("turn", turn.turn)
    fields.text("prompt_id", turn.prompt_id)
    fields.real("ttfa_ms", turn.ttfa_ms)
    fields.real("response_ms", turn.response_ms)
    fields.real("input_audio_s", turn.input_audio_s)
    fields.real("assistant_audio_s", turn.assistant_audio_s)
    fields.integer("audio_bytes", turn.audio_bytes)
    fields.real("pacing_lag_ms", turn.pacing_lag_ms)
    fields.text("response_status", turn.response_status)
    fields.text("detail", turn.detail)
    fields.real("peak_dbfs", turn.peak_dbfs)
    fields.integer("transcript_chars", turn.transcript_chars)
    fields.integer("text_chars", turn.text_chars)
    fields.flag("context_truncated", turn.context_truncated)
    fields.integer("input_tokens", turn.input_tokens)
    fields.integer("output_tokens", turn.output_tokens)
    fields.integer("input_audio_tokens", turn.input_audio_tokens)
    fields.integer("input_text_tokens", turn.input_text_tokens)
    fields.integer("cached_tokens", turn.cached_tokens)
    fields.integer("output_audio_tokens", turn.output_audio_tokens)
    fields.integer("output_text_tokens", turn.output_text_tokens)
    tags = {**_label_tags(labels), "outcome": turn.outcome}
    return LinePoint(
        _series(TURN_MEASUREMENT, tags),
        fields.render(),
        time_ns(turn_end_s(turn), f"{session_id}/{turn.turn}"),
    )


def session_point(record: SessionRecord) -> LinePoint:
    """``s2s_session`` at the session's end: tags are the labels, outcome and failure class."""
    fields = _Fields()
    fields.text("session_id", record.session_id)
    fields.real("duration_s", record.ended_at - record.started_at)
    fields.integer("turns_planned", record.turns_planned)
    fields.integer("turns_completed", record.turns_completed)
    fields.real("assistant_audio_s", record.assistant_audio_s)
    fields.real("capacity_to_failure_s", record.capacity_to_failure_s)
    fields.flag("censored", record.censored)
    fields.real("capacity_to_silent_failure_s", record.capacity_to_silent_failure_s)
    fields.flag("silent_censored", record.silent_censored)
    fields.integer("failure_turn", record.failure_turn)
    fields.text("failure_detail", record.failure_detail)
    fields.integer("silent_failure_turn", record.silent_failure_turn)
    fields.integer("visible_failure_turn", record.visible_failure_turn)
    fields.text("end_class", record.end_class)
    fields.integer("close_code", record.close_code)
    fields.text("close_reason", record.close_reason)
    fields.flag("close_frame_received", record.close_frame_received)
    fields.integer("context_truncations", record.context_truncations)
    fields.integer("legacy_events", record.legacy_events)
    fields.integer("unknown_events", sum(record.unknown_events.values()))
    fields.real("estimated_cost_usd", record.estimated_cost_usd)
    labels = SessionLabels(
        run_id=record.run_id,
        model=record.model,
        provider=record.provider,
        voice=record.voice,
        turn_mode=record.turn_mode,
        scenario=record.scenario,
        worker=record.worker,
    )
    tags = {**_label_tags(labels), "outcome": record.outcome, "failure_class": record.failure_class}
    at = time_ns(record.ended_at, record.session_id)
    return LinePoint(_series(SESSION_MEASUREMENT, tags), fields.render(), at)


def worker_point(
    run_id: str,
    worker: str,
    at_ns: int,
    *,
    active_sessions: int,
    pacing_lag_p50_ms: float | None,
    pacing_lag_p95_ms: float | None,
    cpu_percent: float | None,
    spool_points: int,
    queued_points: int,
    dropped_points: int,
) -> LinePoint:
    """``s2s_worker``: one worker's health at ``at_ns``."""
    fields = _Fields()
    fields.integer("active_sessions", active_sessions)
    fields.real("pacing_lag_p50_ms", pacing_lag_p50_ms)
    fields.real("pacing_lag_p95_ms", pacing_lag_p95_ms)
    fields.real("cpu_percent", cpu_percent)
    fields.integer("spool_points", spool_points)
    fields.integer("queued_points", queued_points)
    fields.integer("dropped_points", dropped_points)
    tags: dict[str, str | None] = {"run_id": run_id, "worker": worker}
    return LinePoint(_series(WORKER_MEASUREMENT, tags), fields.render(), at_ns)


class UniqueTimes:
    """Keeps timestamps unique per series: a point whose series and time were already used moves on by 1 ns.

    Remembers the last ``memory`` points as hashes (a hash clash only costs a needless 1 ns nudge). Older
    collisions would need two records emitted that far apart to end in the same microsecond with the same
    spread: not a case that happens, as points are emitted when the record ends.
    """

    def __init__(self, memory: int = 50_000) -> None:
        self.memory = memory
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        self._lock = threading.Lock()
        self.nudged = 0

    def claim(self, point: LinePoint) -> LinePoint:
        with self._lock:
            at = point.time_ns
            while (key := hash((point.series, at))) in self._seen:
                at += 1
            self._seen.add(key)
            self._order.append(key)
            if len(self._order) > self.memory:
                self._seen.discard(self._order.popleft())
            if at == point.time_ns:
                return point
            self.nudged += 1
            return replace(point, time_ns=at)


def to_points(
    sessions: Iterable[SessionRecord], *, include_turns: bool = True, times: UniqueTimes | None = None
) -> list[str]:
    """Line protocol for whole sessions (their turns first, then the session point), timestamps unique."""
    times = times if times is not None else UniqueTimes()
    lines: list[str] = []
    for record in sessions:
        labels = SessionLabels(
            record.run_id,
            record.model,
            record.provider,
            record.voice,
            record.turn_mode,
            record.scenario,
            record.worker,
        )
        if include_turns:
            lines.extend(times.claim(turn_point(labels, record.session_id, t)).line() for t in record.turns)
        lines.append(times.claim(session_point(record)).line())
    return lines


# --- writer: one HTTP write, failures sorted --------------------------------------------------------------


RETRY = "retry"  # InfluxDB unreachable, slow or overloaded: spool and try again later
REJECT = "reject"  # InfluxDB refused these points for good (malformed, type conflict): keep aside


class WriteFailed(Exception):
    """A write did not go through. ``kind`` is RETRY or REJECT; ``status`` the HTTP status if any."""

    def __init__(
        self,
        kind: str,
        status: int | None,
        reason: str,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s


class InfluxWriter:
    """Synchronous line-protocol writes with explicit ns precision through ``influxdb-client``."""

    def __init__(self, url: str, token: str, org: str, bucket: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self.bucket = bucket
        self._token = token
        self._org = org or "-"
        self._timeout_s = timeout_s
        self._client = InfluxDBClient(
            url=url, token=token, org=self._org, timeout=int(timeout_s * 1000), enable_gzip=False
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: Sequence[str], timeout_s: float | None = None) -> None:
        """Post ``lines`` in one request; raises ``WriteFailed``."""
        if not lines:
            return
        limit = self._timeout_s if timeout_s is None else max(0.1, min(timeout_s, self._timeout_s))
        try:
            self._api.write(
                bucket=self.bucket,
                org=self._org,
                record="\n".join(lines).encode("utf-8"),
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]
                _request_timeout=limit,
            )
        except Exception as error:  # noqa: BLE001 - every library error is sorted here, in one place
            raise self._sort(error) from error

    def _sort(self, error: Exception) -> WriteFailed:
        status = getattr(error, "status", None)
        if isinstance(status, int) and status > 0:
            reason = f"HTTP {status}: {self.scrub(_server_message(error))}"
            retry_after = _seconds(getattr(error, "retry_after", None))
            kind = RETRY if status in (401, 403, 404, 408, 429) or status >= 500 else REJECT
            return WriteFailed(kind, status, reason, retry_after)
        return WriteFailed(RETRY, None, self.scrub(_describe_transport_error(error)))

    def scrub(self, text: str) -> str:
        """``text`` with the token (and a 1.8 token's password) blanked out: servers may echo it."""
        secrets = [self._token, self._token.partition(":")[2]]
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) >= 6:  # shorter ones would mangle ordinary words and cannot be told apart
                text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        try:
            self._api.close()  # type: ignore[no-untyped-call]
        finally:
            self._client.close()  # type: ignore[no-untyped-call]


def _server_message(error: Exception) -> str:
    body = getattr(error, "body", None)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    message = getattr(error, "message", None)
    if isinstance(message, str) and message and message != "no response":
        text = message
    text = " ".join(text.split())
    if not text:
        text = str(getattr(error, "reason", "") or "no message")
    return text[:300]


def _describe_transport_error(error: BaseException) -> str:
    # urllib3 wraps the socket error (ConnectionRefused, timeout) a level or two down; name the innermost.
    seen: BaseException = error
    for _ in range(5):
        inner = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if not isinstance(inner, BaseException):
            break
        seen = inner
    text = " ".join(str(seen).split()) or type(seen).__name__
    if "refused" in text.lower():
        return "connection refused"
    if "timed out" in text.lower() or "timeout" in type(seen).__name__.lower():
        return "timed out"
    return f"{type(seen).__name__}: {text}"[:300]


def _seconds(value: object) -> float | None:
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


# --- start-up check ---------------------------------------------------------------------------------------


def check_connection(settings: InfluxSettings, *, run_id: str = "", worker: str = "") -> None:
    """Write one ``s2s_probe`` point; raise a one-line ``ConfigError`` for 401/403, 404, 4xx or no server.

    A 5xx, 429 or timeout at start-up is only logged: the sink spools until InfluxDB answers.
    """
    if not settings.url.startswith(("http://", "https://")):
        raise ConfigError(f"--influx-url {redact_url(settings.url)!r} must start with http:// or https://")
    if not settings.bucket:
        raise ConfigError("--influx-bucket (S2S_INFLUX_BUCKET) is required with --influx-url")
    writer = InfluxWriter(
        settings.url,
        settings.token,
        settings.org,
        settings.bucket,
        settings.request_timeout_s,
    )
    fields = _Fields()
    fields.integer("ok", 1)
    series = _series(PROBE_MEASUREMENT, {"run_id": run_id, "worker": worker})
    probe = LinePoint(series, fields.render(), time.time_ns())
    try:
        writer.write([probe.line()])
    except WriteFailed as failure:
        where = f"InfluxDB at {redact_url(settings.url)}"
        if failure.status in (401, 403):
            raise ConfigError(
                f"{where} refused the token ({failure.reason}): check --influx-token / {ENV_TOKEN}"
                " (InfluxDB 1.8: user:password) and that it may write to the bucket"
            ) from None
        if failure.status == 404:
            raise ConfigError(
                f"{where} has no bucket {settings.bucket!r} in org {settings.org!r} ({failure.reason}):"
                f" create it (InfluxDB 2/3: influx bucket create -n {settings.bucket}; 1.x: CREATE DATABASE"
                f" {settings.bucket.split('/')[0]}) or fix --influx-bucket / --influx-org"
            ) from None
        if failure.status is None and failure.reason != "timed out":
            message = f"cannot reach {where} ({failure.reason}): check --influx-url / {ENV_URL}"
            raise ConfigError(message) from None
        if failure.kind == REJECT:
            raise ConfigError(f"{where} rejected a test point ({failure.reason})") from None
        log.warning("influx: %s does not answer at start (%s); points will be spooled", where, failure.reason)
    finally:
        writer.close()


# --- the sink ---------------------------------------------------------------------------------------------

REJECTED_DIR = "rejected"


class InfluxSink:
    """The ``Sink`` for InfluxDB, plus ``write_worker``. Writers only append to a queue; see the module doc.

    ``background=False`` starts no writer: call ``flush()`` yourself (tests, the replay tool).
    """

    def __init__(
        self,
        settings: InfluxSettings,
        *,
        run_id: str,
        worker: str,
        background: bool = True,
        clock_ns: Callable[[], int] = time.time_ns,
        writer: InfluxWriter | None = None,
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self.worker = worker
        self.summary: SinkSummary | None = None
        self._clock_ns = clock_ns
        self._writer = writer or InfluxWriter(
            settings.url, settings.token, settings.org, settings.bucket, settings.request_timeout_s
        )
        self._spool = Spool(settings.spool_dir, settings.max_spool_bytes)
        self._times = UniqueTimes()
        self._queue: deque[str] = deque()
        self._flush_lock = threading.Lock()
        self._stopping = threading.Event()
        self._closed = False
        self._written = 0
        self._spooled = 0
        self._dropped = 0
        self._rejected = 0
        self._in_flight = 0
        self._retry_at = 0.0
        self._backoff_s = 0.0
        self._outage: str | None = None
        self._spool_full_reported = False
        if self._spool:
            log.warning(
                "influx: %d points from an earlier run wait in %s; replaying them first",
                self._spool.points,
                settings.spool_dir,
            )
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="s2s-influx-writer", daemon=True)
            self._thread.start()

    # --- the users' side: append only ---------------------------------------------------------------

    def write_turn(self, labels: SessionLabels, session_id: str, turn: TurnRecord) -> None:
        self._put(turn_point(labels, session_id, turn))

    def write_session(self, record: SessionRecord) -> None:
        self._put(session_point(record))

    def write_worker(
        self,
        active_sessions: int,
        pacing_lag_p50_ms: float | None,
        pacing_lag_p95_ms: float | None,
        cpu_percent: float | None,
    ) -> None:
        """Per-worker health, stamped now; also reports the sink's own backlog and drops."""
        self._put(
            worker_point(
                self.run_id,
                self.worker,
                self._clock_ns(),
                active_sessions=active_sessions,
                pacing_lag_p50_ms=pacing_lag_p50_ms,
                pacing_lag_p95_ms=pacing_lag_p95_ms,
                cpu_percent=cpu_percent,
                spool_points=self._spool.points,
                queued_points=len(self._queue),
                dropped_points=self._dropped,
            )
        )

    def _put(self, point: LinePoint) -> None:
        line = self._times.claim(point).line()
        if self._closed:  # a late record after close: straight to disk, never lost silently
            self._to_spool([line])
            return
        self._queue.append(line)

    # --- state --------------------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Points in memory, not yet written or spooled."""
        return len(self._queue)

    @property
    def spool_points(self) -> int:
        """Points waiting on disk."""
        return self._spool.points

    @property
    def written(self) -> int:
        return self._written

    # --- the writer's side --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.wait(self.settings.flush_interval_s):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the writer must outlive any surprise; points stay queued
                log.exception("influx: the writer hit an unexpected error; retrying next interval")

    def flush(self, deadline: float | None = None) -> None:
        """Replay the spool, then write what is queued; spool what cannot be written now.

        Without ``deadline`` it respects the back-off after a failure (queued points go to the spool);
        with one (close) it tries once more whatever the back-off, and stops trying at the deadline.
        """
        with self._flush_lock:
            live = deadline is not None or time.monotonic() >= self._retry_at
            if live:
                live = self._replay(deadline)
            while self._queue:
                batch = self._take(self.settings.batch_size)
                if live and not _past(deadline):
                    live = self._send(batch, deadline)
                else:
                    self._to_spool(batch)

    def _take(self, count: int) -> list[str]:
        batch: list[str] = []
        while len(batch) < count:
            try:
                batch.append(self._queue.popleft())
            except IndexError:
                break
        return batch

    def _replay(self, deadline: float | None) -> bool:
        """Write spooled segments oldest first; False as soon as one cannot be written now."""
        replayed = 0
        while (segment := self._spool.oldest()) is not None:
            if _past(deadline):
                return False
            lines = segment.read_lines()
            try:
                self._post(lines, deadline)
            except WriteFailed as failure:
                if failure.kind == RETRY:
                    self._failed(failure)
                    return False
                self._reject(lines, failure)
            else:
                self._written += len(lines)
                replayed += len(lines)
            self._spool.remove(segment)
        if replayed:
            log.info("influx: replayed %d spooled points", replayed)
        return True

    def _send(self, batch: list[str], deadline: float | None) -> bool:
        """Write one batch; on a temporary failure spool it and return False."""
        try:
            self._post(batch, deadline)
        except WriteFailed as failure:
            if failure.kind == RETRY:
                self._failed(failure)
                self._to_spool(batch)
                return False
            self._reject(batch, failure)
            return True
        self._written += len(batch)
        return True

    def _post(self, lines: list[str], deadline: float | None) -> None:
        timeout = None if deadline is None else deadline - time.monotonic()
        self._in_flight = len(lines)
        try:
            self._writer.write(lines, timeout)
        finally:
            self._in_flight = 0
        if self._outage is not None:
            log.warning("influx: InfluxDB answers again after: %s", self._outage)
            self._outage = None
        self._backoff_s = 0.0
        self._retry_at = 0.0

    def _failed(self, failure: WriteFailed) -> None:
        doubled = max(self._backoff_s * 2, self.settings.flush_interval_s)
        self._backoff_s = min(doubled, self.settings.max_backoff_s)
        wait = max(self._backoff_s, failure.retry_after_s or 0.0)
        self._retry_at = time.monotonic() + wait
        if self._outage is None:
            self._outage = failure.reason
            log.warning(
                "influx: cannot write to %s (%s): spooling to %s and retrying",
                redact_url(self._writer.url),
                failure.reason,
                self.settings.spool_dir,
            )

    def _to_spool(self, lines: list[str]) -> None:
        result = self._spool.append(lines)
        self._spooled += result.stored
        if result.dropped:
            self._dropped += result.dropped
            if not self._spool_full_reported:
                self._spool_full_reported = True
                log.error(
                    "influx: spool %s is full (%d bytes): DROPPING points until InfluxDB answers; "
                    "raise the spool bound or fix InfluxDB",
                    self.settings.spool_dir,
                    self.settings.max_spool_bytes,
                )

    def _reject(self, lines: list[str], failure: WriteFailed) -> None:
        self._rejected += len(lines)
        folder = self.settings.spool_dir / REJECTED_DIR
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "rejected.lp").open("a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
        log.error("influx: InfluxDB rejected %d points (%s); kept in %s", len(lines), failure.reason, folder)

    # --- end of run ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Flush within ``close_deadline_s``; what cannot be written stays on disk. Sets ``summary``."""
        if self.summary is not None:
            return
        deadline = time.monotonic() + self.settings.close_deadline_s
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.close_deadline_s)
        if self._thread is None or not self._thread.is_alive():
            self.flush(deadline)
        elif self._queue:  # the writer is stuck in a request: keep the rest on disk ourselves
            self._to_spool(self._take(len(self._queue)))
        self._closed = True
        if self._queue:
            self._to_spool(self._take(len(self._queue)))
        self.summary = SinkSummary(
            written=self._written,
            spooled=self._spooled,
            left_on_disk=self._spool.points,
            dropped=self._dropped,
            spool_dir=self.settings.spool_dir,
            rejected=self._rejected,
            in_flight=self._in_flight,
        )
        (log.info if self.summary.complete else log.warning)("%s", self.summary.message())
        if self._thread is None or not self._thread.is_alive():
            self._writer.close()


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


# --- replay tool ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayResult:
    written: int
    remaining: int
    error: str | None


def replay(directory: Path, writer: InfluxWriter, batch_size: int = 5000) -> ReplayResult:
    """Write every spooled segment under ``directory`` (a spool or a run's tree), oldest first per folder."""
    written = 0
    error: str | None = None
    folders = list(spool_dirs(directory))
    for folder in folders:
        spool = Spool(folder, max_bytes=1 << 62)
        while error is None and (segment := spool.oldest()) is not None:
            lines = segment.read_lines()
            try:
                for start in range(0, len(lines), batch_size):
                    writer.write(lines[start : start + batch_size])
            except WriteFailed as failure:
                error = failure.reason
                break
            written += len(lines)
            spool.remove(segment)
    remaining = sum(Spool(folder, max_bytes=1 << 62).points for folder in folders)
    return ReplayResult(written, remaining, error)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s2s_users.sinks.influx", description="sink tools")
    commands = parser.add_subparsers(dest="command", required=True)
    replay_parser = commands.add_parser("replay", help="write the points of a spool directory to InfluxDB")
    replay_parser.add_argument("directory", type=Path, help="a spool directory, or a folder of them")
    replay_parser.add_argument("--url", default=os.environ.get(ENV_URL), help=f"InfluxDB URL (${ENV_URL})")
    replay_parser.add_argument(
        "--token", default=os.environ.get(ENV_TOKEN, ""), help=f"token, 1.8: user:password (${ENV_TOKEN})"
    )
    replay_parser.add_argument("--org", default=os.environ.get(ENV_ORG, ""), help=f"org (${ENV_ORG})")
    replay_parser.add_argument("--bucket", default=os.environ.get(ENV_BUCKET), help=f"bucket (${ENV_BUCKET})")
    replay_parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args(argv)
    if not args.url or not args.bucket:
        parser.error(f"--url and --bucket are required (or ${ENV_URL} and ${ENV_BUCKET})")
    if not args.directory.is_dir():
        print(f"influx replay: {args.directory} is not a directory", file=sys.stderr)
        return 2
    writer = InfluxWriter(args.url, args.token, args.org, args.bucket)
    try:
        result = replay(args.directory, writer, args.batch_size)
    finally:
        writer.close()
    if result.error is not None:
        print(
            f"influx replay: {result.written} points written, stopped by {result.error};"
            f" {result.remaining} points remain in {args.directory}: run again when InfluxDB answers",
            file=sys.stderr,
        )
        return 1
    print(f"influx replay: {result.written} points written to {args.bucket} from {args.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
