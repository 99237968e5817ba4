"""InfluxDB line protocol for records (pure): low-cardinality tags, typed fields, explicit unique timestamps.

InfluxDB keys a point by measurement + tag set + time, so two points of one series with the same time overwrite
each other. Session id and turn index are fields, not tags, so turns of two sessions with equal labels *are* one
series: timestamps are the record's time on a microsecond grid plus a deterministic 0-999 ns spread taken from
the session id and turn index, and ``UniqueTimes`` nudges any remaining collision by a nanosecond.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

from s2s_users.core.failures import kind_of
from s2s_users.core.metrics.lag import LagFigures
from s2s_users.core.metrics.records import SessionLabels, SessionRecord, TurnRecord
from s2s_users.core.reporting.dashboard import CurvePoint, ModelSummary

TURN_MEASUREMENT = "s2s_turn"
SESSION_MEASUREMENT = "s2s_session"
WORKER_MEASUREMENT = "s2s_worker"
PROBE_MEASUREMENT = "s2s_probe"
SUMMARY_MEASUREMENT = "s2s_summary"
SURVIVAL_MEASUREMENT = "s2s_survival"
RUN_MEASUREMENT = "s2s_run"

_MAX_STRING = 1024  # longer string fields (error text) are cut: a detail, not a payload
_NONE_TAG = "none"  # tag value for a missing label (line protocol has no empty tag values)


@dataclass(frozen=True, slots=True)
class LinePoint:
    """One point: ``series`` is the escaped ``measurement,tag=value...``, ``fields`` the escaped field set."""

    series: str
    fields: str
    time_ns: int

    def line(self) -> str:
        return f"{self.series} {self.fields} {self.time_ns}"


class Fields:
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


def series(measurement: str, tags: dict[str, str | None]) -> str:
    parts = [_escape_key(measurement)]
    for key in sorted(tags):
        value = tags[key]
        parts.append(f"{_escape_key(key)}={_escape_key(value) if value else _NONE_TAG}")
    return ",".join(parts)


def _label_tags(labels: SessionLabels) -> dict[str, str | None]:
    return dict(labels.to_dict())


def time_ns(seconds: float, key: str = "") -> int:
    """Epoch seconds on a microsecond grid, plus a deterministic 0-999 ns spread taken from ``key``."""
    spread = zlib.crc32(key.encode("utf-8")) % 1000 if key else 0
    return round(seconds * 1_000_000) * 1000 + spread


def turn_end_s(turn: TurnRecord) -> float:
    """When the turn ended; records written before ``ended_at`` existed get an estimate from their other times."""
    if turn.ended_at is not None:
        return turn.ended_at
    after_audio_ms = 0.0
    for candidate in (turn.response_ms, turn.ttfa_ms):
        if candidate is not None and math.isfinite(candidate) and candidate > 0:
            after_audio_ms = candidate
            break
    return turn.started_at + turn.input_audio_s + after_audio_ms / 1000


def turn_point(labels: SessionLabels, session_id: str, turn: TurnRecord) -> LinePoint:
    """``s2s_turn``: tags are the session labels and the outcome; everything else is a field."""
    fields = Fields()
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
    for name, tokens in TurnRecord.usage_fields(turn.usage).items():
        fields.integer(name, tokens)
    fields.flag("solicited", turn.solicited)
    fields.text("unsolicited_reason", turn.unsolicited_reason)
    fields.real("audible_ms", turn.audible_ms)
    fields.real("leading_silence_ms", turn.leading_silence_ms)
    fields.real("endpointing_ms", turn.endpointing_ms)
    fields.flag("barge_in", turn.barge_in)
    fields.real("stop_latency_ms", turn.stop_latency_ms)
    fields.real("cost_usd", turn.cost_usd)
    fields.real("session_audio_s", turn.session_audio_s)
    fields.flag("after_rotation", turn.after_rotation)
    tags = {**_label_tags(labels), "outcome": str(turn.outcome), "failure_kind": kind_of(turn.outcome).value}
    return LinePoint(
        series(TURN_MEASUREMENT, tags),
        fields.render(),
        time_ns(turn_end_s(turn), f"{session_id}/{turn.turn}"),
    )


def session_point(record: SessionRecord) -> LinePoint:
    """``s2s_session`` at the session's end: tags are the labels, outcome and failure class."""
    fields = Fields()
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
    fields.flag("silent_failure", record.silent_failure_turn is not None)
    fields.integer("unsolicited_responses", record.unsolicited_responses)
    fields.real("stray_audio_s", record.stray_audio_s)
    fields.integer("barge_ins", record.barge_ins)
    fields.integer("rotations", record.rotations)
    fields.integer("cap_reconnects", record.cap_reconnects)
    fields.integer("reinjected_chars", record.reinjected_chars)
    fields.flag("capacity_warning", record.warning_turn is not None)
    fields.integer("warning_turn", record.warning_turn)
    tags = {
        **_label_tags(record.labels),
        "outcome": str(record.outcome),
        "failure_class": None if record.failure_class is None else str(record.failure_class),
        "failure_kind": kind_of(record.failure_class).value,
    }
    at = time_ns(record.ended_at, record.session_id)
    return LinePoint(series(SESSION_MEASUREMENT, tags), fields.render(), at)


def worker_point(
    run_id: str,
    worker: str,
    at_ns: int,
    *,
    active_sessions: int,
    pacing: LagFigures,
    cpu_percent: float | None,
    spool_points: int,
    queued_points: int,
    dropped_points: int,
) -> LinePoint:
    """``s2s_worker``: one worker's health at ``at_ns``; ``pacing`` is the lag of every chunk its users sent in
    the turns that ended since its previous point."""
    fields = Fields()
    fields.integer("active_sessions", active_sessions)
    fields.integer("pacing_chunks", pacing.chunks)
    fields.real("pacing_lag_p50_ms", pacing.p50_ms)
    fields.real("pacing_lag_p99_ms", pacing.p99_ms)
    fields.real("pacing_lag_max_ms", pacing.max_ms)
    fields.real("cpu_percent", cpu_percent)
    fields.integer("spool_points", spool_points)
    fields.integer("queued_points", queued_points)
    fields.integer("dropped_points", dropped_points)
    tags: dict[str, str | None] = {"run_id": run_id, "worker": worker}
    return LinePoint(series(WORKER_MEASUREMENT, tags), fields.render(), at_ns)


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
        if include_turns:
            lines.extend(times.claim(turn_point(record.labels, record.session_id, t)).line() for t in record.turns)
        lines.append(times.claim(session_point(record)).line())
    return lines


# --- written by the record owner (the master), which alone sees every session --------------------------------


@dataclass(frozen=True, slots=True)
class RunLabels:
    """Tags of the master's points: the run and its run-wide settings."""

    run_id: str
    turn_mode: str
    scenario: str


def summary_point(run: RunLabels, summary: ModelSummary, at_ns: int) -> LinePoint:
    """``s2s_summary``: one model's counts, capacity (median and CI, minutes), TTFA and audio percentiles."""
    fields = Fields()
    fields.flag("final", summary.final)
    fields.integer("active", summary.active)
    fields.integer("sessions_ended", summary.sessions_ended)
    fields.integer("failed_sessions", summary.failed_sessions)
    fields.integer("silent_failure_sessions", summary.silent_failure_sessions)
    fields.integer("censored_sessions", summary.censored_sessions)
    fields.integer("lost_sessions", summary.lost_sessions)
    fields.integer("turns_ok", summary.turns_ok)
    fields.integer("turns_failed", summary.turns_failed)
    fields.real("audio_minutes", summary.audio_minutes)
    fields.flag("capacity_reached", summary.capacity_median_min is not None)
    fields.real("capacity_median_min", summary.capacity_median_min)
    fields.real("capacity_ci_low_min", summary.capacity_ci_low_min)
    fields.real("capacity_ci_high_min", summary.capacity_ci_high_min)
    fields.real("ttfa_p50_ms", summary.ttfa_p50_ms)
    fields.real("ttfa_p95_ms", summary.ttfa_p95_ms)
    fields.real("turn_audio_p50_s", summary.turn_audio_p50_s)
    fields.real("turn_audio_p95_s", summary.turn_audio_p95_s)
    fields.real("cost_usd", summary.cost_usd)
    tags: dict[str, str | None] = {
        "run_id": run.run_id,
        "model": summary.model,
        "arm": summary.arm,
        "turn_mode": run.turn_mode,
        "scenario": run.scenario,
    }
    return LinePoint(series(SUMMARY_MEASUREMENT, tags), fields.render(), at_ns)


def survival_points(
    run: RunLabels, model: str, curve: list[CurvePoint], origin_ns: int, pad_to: int = 0
) -> list[LinePoint]:
    """``s2s_survival``: the curve's corners at fixed times ``origin_ns + i µs``.

    Each refresh rewrites the same series at the same times, so InfluxDB keeps only the newest curve; ``pad_to``
    repeats the last corner so that a shorter curve also replaces every point of a longer earlier one.
    """
    tags: dict[str, str | None] = {"run_id": run.run_id, "model": model, "turn_mode": run.turn_mode}
    name = series(SURVIVAL_MEASUREMENT, tags)
    padded = curve + [curve[-1]] * max(pad_to - len(curve), 0) if curve else []
    out = []
    for index, corner in enumerate(padded):
        fields = Fields()
        fields.integer("index", index)
        fields.real("capacity_s", corner.capacity_s)
        fields.real("capacity_min", corner.capacity_s / 60)
        fields.real("survival", corner.survival)
        fields.real("ci_low", corner.ci_low)
        fields.real("ci_high", corner.ci_high)
        fields.integer("at_risk", corner.at_risk)
        fields.integer("events", corner.events)
        out.append(LinePoint(name, fields.render(), origin_ns + index * 1000))
    return out


def run_point(run: RunLabels, event: str, at_ns: int, text: str, **values: str | int) -> LinePoint:
    """``s2s_run``: a start or stop annotation; ``text`` is what Grafana shows, ``values`` are more fields."""
    fields = Fields()
    fields.text("text", text)
    for key, value in sorted(values.items()):
        if isinstance(value, int):
            fields.integer(key, value)
        else:
            fields.text(key, value)
    tags: dict[str, str | None] = {"run_id": run.run_id, "event": event}
    return LinePoint(series(RUN_MEASUREMENT, tags), fields.render(), at_ns)
