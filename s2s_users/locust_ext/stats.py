"""The only callers of Locust's ``events.request.fire``: one entry per turn and one per session.

Failures are keyed by taxonomy code (``TaxonomyFailure.__repr__`` is the bare code), never by exception
text, so Locust's failure table groups them exactly by class.
"""

from __future__ import annotations

from typing import Any

from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.records import OK, SessionRecord, TurnRecord

REQUEST_TYPE = "s2s"


class TaxonomyFailure(Exception):
    """A failure as Locust sees it: the taxonomy code, with the detail kept out of the grouping key."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail

    def __repr__(self) -> str:
        return self.code


def fire_turn(events: Any, model: str, turn: TurnRecord) -> None:
    """A Locust request per turn: response time = time to first audio, length = assistant audio bytes."""
    if turn.outcome == FailureClass.HARNESS_STOPPED or not turn.solicited:
        return  # cut short by the load test itself, or an answer nobody asked for: not a request
    response_time = turn.ttfa_ms if turn.ttfa_ms is not None else (turn.response_ms or 0.0)
    events.request.fire(
        request_type=REQUEST_TYPE,
        name=f"{model} turn",
        response_time=response_time,
        response_length=turn.audio_bytes,
        exception=None if turn.outcome == OK else TaxonomyFailure(str(turn.outcome), turn.detail),
        context={"turn": turn.turn},
    )


def fire_session(events: Any, record: SessionRecord) -> None:
    """A Locust request per session: response time = accumulated assistant audio in ms (its capacity)."""
    failure = record.failure_class
    events.request.fire(
        request_type=REQUEST_TYPE,
        name=f"{record.model} session",
        response_time=record.assistant_audio_s * 1000,
        response_length=sum(t.audio_bytes for t in record.turns),
        exception=TaxonomyFailure(str(failure), record.failure_detail) if failure else None,
        context={"session_id": record.session_id},
    )
