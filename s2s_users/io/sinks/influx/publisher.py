"""The record owner's points: every session once, summaries and survival curves, run annotations.

Only the record owner (the master, or the single local process) sees every session, including the sessions of a
worker that died, so it alone writes ``s2s_session`` (exactly the records of ``sessions.jsonl``), ``s2s_summary``
and ``s2s_survival`` (refreshed while the run goes, then the report's final values), and the ``s2s_run`` start and
stop annotations. Workers write ``s2s_turn`` and ``s2s_worker``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from s2s_users.core.metrics.live import LiveView
from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.reporting.dashboard import (
    CurvePoint,
    ModelSummary,
    final_curves,
    final_summaries,
    live_curves,
    live_summaries,
)
from s2s_users.core.reporting.summary import Report
from s2s_users.io.sinks.influx.points import RunLabels, run_point, session_point, summary_point, survival_points
from s2s_users.io.sinks.influx.sink import InfluxSink


@dataclass(frozen=True, slots=True)
class RunDescription:
    """What a run annotation says. ``target`` is a URL without secrets, or the embedded mock."""

    models: tuple[str, ...]
    users: int
    target: str
    version: str


class RunPublisher:
    """Writes the record owner's points through ``sink``; survival curves overwrite their earlier refresh."""

    def __init__(self, sink: InfluxSink, run: RunLabels, origin_ns: int) -> None:
        self.sink = sink
        self.run = run
        self.origin_ns = origin_ns
        self._curve_lengths: dict[str, int] = {}

    def started(self, description: RunDescription, at_ns: int) -> None:
        models = ",".join(description.models)
        text = (
            f"run {self.run.run_id} started: {models}; {description.users} users; {description.target}; "
            f"turn mode {self.run.turn_mode}; s2s_users {description.version}"
        )
        self.sink.write_point(
            run_point(
                self.run,
                "start",
                at_ns,
                text,
                models=models,
                users=description.users,
                target=description.target,
                version=description.version,
            )
        )

    def stopped(self, sessions: int, at_ns: int) -> None:
        text = f"run {self.run.run_id} stopped: {sessions} sessions recorded"
        self.sink.write_point(run_point(self.run, "stop", at_ns, text, sessions=sessions))

    def session(self, record: SessionRecord) -> None:
        self.sink.write_point(session_point(record))

    def live(self, view: LiveView, at_ns: int) -> None:
        """The Sessions tab's numbers now, and its survival curves."""
        self._summaries(live_summaries(view), at_ns)
        self._curves(live_curves(view))

    def final(self, report: Report, records: Sequence[SessionRecord], at_ns: int) -> None:
        """The report's numbers and curves: the last word, so dashboards and the report agree."""
        self._summaries(final_summaries(report), at_ns)
        self._curves(final_curves(records))

    def _summaries(self, summaries: list[ModelSummary], at_ns: int) -> None:
        for summary in summaries:
            self.sink.write_point(summary_point(self.run, summary, at_ns))

    def _curves(self, curves: dict[str, list[CurvePoint]]) -> None:
        for model, curve in curves.items():
            longest = max(self._curve_lengths.get(model, 0), len(curve))
            self._curve_lengths[model] = longest
            self.sink.write_replacing(survival_points(self.run, model, curve, self.origin_ns, pad_to=longest))
