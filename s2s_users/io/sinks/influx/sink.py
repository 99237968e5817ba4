"""The InfluxDB sink: every turn, session and health record as a point, written off the users' path.

``write_turn``/``write_session``/``write_worker`` only append to an in-memory queue. A background writer (an OS
thread; a greenlet when the process is gevent-patched) flushes every ``flush_interval_s``: it first replays the
on-disk spool oldest first, then posts new points in batches. While InfluxDB misbehaves, batches go to the bounded
spool (``spool.py``) and are replayed in order once it answers. ``close()`` flushes within ``close_deadline_s``
and leaves a ``SinkSummary``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from s2s_users.core.metrics.lag import LagFigures
from s2s_users.core.metrics.records import SessionLabels, SessionRecord, TurnRecord
from s2s_users.core.redact import redact_url
from s2s_users.io.sinks.influx.points import LinePoint, UniqueTimes, session_point, turn_point, worker_point
from s2s_users.io.sinks.influx.settings import REPLAY_COMMAND, InfluxSettings
from s2s_users.io.sinks.influx.writer import RETRY, InfluxWriter, WriteFailed
from s2s_users.io.sinks.spool import Spool

log = logging.getLogger(__name__)

REJECTED_DIR = "rejected"


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
        pacing: LagFigures,
        cpu_percent: float | None,
    ) -> None:
        """Per-worker health, stamped now; also reports the sink's own backlog and drops."""
        self._put(
            worker_point(
                self.run_id,
                self.worker,
                self._clock_ns(),
                active_sessions=active_sessions,
                pacing=pacing,
                cpu_percent=cpu_percent,
                spool_points=self._spool.points,
                queued_points=len(self._queue),
                dropped_points=self._dropped,
            )
        )

    def write_point(self, point: LinePoint) -> None:
        """Any other point (summaries, annotations); its time is kept unique in its series like every record's."""
        self._put(point)

    def write_replacing(self, points: Iterable[LinePoint]) -> None:
        """Points meant to overwrite earlier ones of the same series and time (a refreshed survival curve)."""
        for point in points:
            self._put_line(point.line())

    def _put(self, point: LinePoint) -> None:
        self._put_line(self._times.claim(point).line())

    def _put_line(self, line: str) -> None:
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

    @property
    def outage(self) -> str | None:
        """Why the last write failed, while InfluxDB does not answer (None: it does, or nothing was tried yet)."""
        return self._outage

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
