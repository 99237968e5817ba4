"""The only caller of Locust's ``events.request.fire``: one request per turn, named by its model.

What Locust's Statistics tab, its charts and its ``--csv``/``--html``/``--json`` outputs then say, row by row:

- Type ``turn``, Name the model: one row per model (the Aggregated row is then all turns of the run).
- Response time: the turn's time to first audio (TTFA), in ms. A failed turn that never got audio has no TTFA: it
  counts as a request and a failure, with no time (Locust's ``response_time=None``), so the times stay TTFA only.
- Failures: failed turns, keyed by taxonomy code (``TaxonomyFailure.__repr__`` is the bare code, never exception
  text), so Locust's Failures tab groups them exactly by class.
- Size: the turn's assistant audio bytes.

Turns that are not measurements of the service are left out: cut short by the run's end (``harness.stopped``),
ended by the provider's session cap (``session.expired``), lost with a worker. Sessions are not requests: their
numbers (capacity, survival) are the Sessions tab's, the report's and InfluxDB's.
"""

from __future__ import annotations

from typing import Any

from s2s_users.core.failures import FailureKind, kind_of
from s2s_users.core.metrics.records import OK, TurnRecord

REQUEST_TYPE = "turn"


class TaxonomyFailure(Exception):
    """A failure as Locust sees it: the taxonomy code, with the detail kept out of the grouping key."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail

    def __repr__(self) -> str:
        return self.code


def is_request(turn: TurnRecord) -> bool:
    """True for the turns Locust counts: ok ones and failures of the service."""
    return turn.outcome == OK or kind_of(turn.outcome) is not FailureKind.NONE


def fire_turn(events: Any, model: str, turn: TurnRecord) -> None:
    """A Locust request per turn: response time = TTFA (None without audio), length = assistant audio bytes."""
    if not is_request(turn) or not turn.solicited:
        return  # cut short by the load test itself, or an answer nobody asked for: not a request
    events.request.fire(
        request_type=REQUEST_TYPE,
        name=model,
        response_time=turn.ttfa_ms,
        response_length=turn.audio_bytes,
        exception=None if turn.outcome == OK else TaxonomyFailure(str(turn.outcome), turn.detail),
        context={"turn": turn.turn},
    )
