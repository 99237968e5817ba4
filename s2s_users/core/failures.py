"""The failure taxonomy: a closed set of dotted codes, what each means, and one pure ``classify()``.

Every way a turn or a session can go wrong maps to exactly one ``FailureClass``. Locust failures, records,
reports and InfluxDB all key on the code, never on exception text (wording changes would split buckets).

``classify()`` takes a small observation of *how a turn or session ended* (built by ``session.py``, the one
place that sees library exceptions) and returns the code, or ``None`` for a healthy end.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FailureClass(enum.StrEnum):
    """Closed set of failure codes (DESIGN §3)."""

    ZERO_AUDIO = "response.zero_audio"
    NEAR_SILENT = "response.near_silent"
    FAILED = "response.failed"
    INCOMPLETE = "response.incomplete"
    CANCELLED = "response.cancelled"
    BARGE_IN_IGNORED = "response.barge_in_ignored"
    CONTEXT_TRUNCATED = "context.truncated"
    SERVER_ERROR_EVENT = "server.error_event"
    CLOSED_NO_FRAME = "transport.closed_no_frame"
    CLOSED_FRAME = "transport.closed_frame"
    SESSION_EXPIRED = "session.expired"
    TIMEOUT_FIRST_AUDIO = "timeout.first_audio"
    TIMEOUT_STALL = "timeout.stall"
    CONNECT_REJECTED = "connect.rejected"
    PROTOCOL_UNEXPECTED = "protocol.unexpected"
    HARNESS_STOPPED = "harness.stopped"
    WORKER_LOST = "harness.worker_lost"


EXPLANATIONS: dict[FailureClass, str] = {
    FailureClass.ZERO_AUDIO: "response.done said completed but carried zero audio bytes (text-only is a sub-case)",
    FailureClass.NEAR_SILENT: "audio arrived but its peak stayed below the amplitude floor for the whole turn",
    FailureClass.FAILED: "response.done with status failed (status_details.error says why)",
    FailureClass.INCOMPLETE: "response.done with status incomplete that we did not ask for (reason recorded)",
    FailureClass.CANCELLED: "response.done with status cancelled that we did not ask for (reason recorded)",
    FailureClass.BARGE_IN_IGNORED: "we spoke over the answer and the server kept streaming it to the end",
    FailureClass.CONTEXT_TRUNCATED: "the server deleted or truncated earlier conversation items (counted, not fatal)",
    FailureClass.SERVER_ERROR_EVENT: "an error event ended the turn or the session",
    FailureClass.CLOSED_NO_FRAME: "the socket ended without a close frame (clients report 1006)",
    FailureClass.CLOSED_FRAME: "the server sent a close frame while the session still had turns to play",
    FailureClass.SESSION_EXPIRED: "the provider's session length cap ended the session: expected, not a failure",
    FailureClass.TIMEOUT_FIRST_AUDIO: "no audio arrived within the turn timeout while the socket stayed open",
    FailureClass.TIMEOUT_STALL: "audio started, then no event arrived within the turn timeout (socket open)",
    FailureClass.CONNECT_REJECTED: "the WebSocket handshake failed (HTTP status recorded) or could not connect",
    FailureClass.PROTOCOL_UNEXPECTED: "the server sent malformed or out-of-order messages",
    FailureClass.HARNESS_STOPPED: "Locust stopped the user before the session ended: censored, never a failure",
    FailureClass.WORKER_LOST: "the Locust worker running the session died: censored at its last report, not a failure",
}

#: Failures that give the application no error signal: the dangerous ones.
SILENT: frozenset[FailureClass] = frozenset(
    {
        FailureClass.ZERO_AUDIO,
        FailureClass.NEAR_SILENT,
        FailureClass.CLOSED_NO_FRAME,
        FailureClass.TIMEOUT_FIRST_AUDIO,
        FailureClass.TIMEOUT_STALL,
    }
)

#: Ends that are not failures of the service: the session is censored there.
NOT_FAILURES: frozenset[FailureClass] = frozenset(
    {
        FailureClass.SESSION_EXPIRED,
        FailureClass.HARNESS_STOPPED,
        FailureClass.WORKER_LOST,
        FailureClass.CONTEXT_TRUNCATED,
    }
)

#: Failures after which the session cannot go on (the socket is gone or we gave up on it).
TERMINAL: frozenset[FailureClass] = frozenset(
    {
        FailureClass.CLOSED_NO_FRAME,
        FailureClass.CLOSED_FRAME,
        FailureClass.SESSION_EXPIRED,
        FailureClass.TIMEOUT_FIRST_AUDIO,
        FailureClass.TIMEOUT_STALL,
        FailureClass.CONNECT_REJECTED,
        FailureClass.PROTOCOL_UNEXPECTED,
        FailureClass.HARNESS_STOPPED,
        FailureClass.WORKER_LOST,
    }
)

# Reason text the providers use when their session length cap ends a session.
_SESSION_CAP_MARKERS = ("maximum duration", "session_expired", "session expired")


class FailureKind(enum.StrEnum):
    """What a turn outcome or a session's first failure was, for dashboards: silent, visible, or none."""

    SILENT = "silent"
    VISIBLE = "visible"
    NONE = "none"


def kind_of(outcome: str | None) -> FailureKind:
    """The kind of a record's outcome: ``"ok"``, None and ends that are not failures are ``NONE``."""
    try:
        code = FailureClass(outcome) if outcome is not None else None
    except ValueError:
        code = None  # "ok", or a code from a newer version: not a failure we know
    if not is_failure(code):
        return FailureKind.NONE
    return FailureKind.SILENT if is_silent(code) else FailureKind.VISIBLE


def is_silent(code: FailureClass | None) -> bool:
    """True when the failure gave the client no error signal."""
    return code in SILENT


def is_failure(code: FailureClass | None) -> bool:
    """True when the code counts against the service (not None, not an expected or harness end)."""
    return code is not None and code not in NOT_FAILURES


# --- observations: how a turn or a session ended -------------------------------------------------------


#: Audio a server may still stream after we speak over its answer before it counts as ignoring us...
BARGE_IN_TOLERANCE_S = 1.0
#: ...if it also kept streaming this long (real time) after our speech began: an answer whose end came sooner was
#: over before any server could react (OpenAI stops in about 0.3 s), and finishing it is not ignoring us.
BARGE_IN_REACTION_S = 0.5


@dataclass(frozen=True, slots=True)
class ResponseEnded:
    """``response.done`` arrived. ``streamed_after_barge_in_s``: audio received after we spoke over it (None when we
    did not); an interrupted response that was cancelled was asked to stop."""

    status: str
    audio_bytes: int
    peak_dbfs: float
    silence_floor_dbfs: float
    cancel_requested: bool = False
    streamed_after_barge_in_s: float | None = None
    streamed_for_s: float = 0.0
    """After a barge-in: from our speech starting to the last audio, on the engine's clock."""
    reaction_s: float = BARGE_IN_REACTION_S
    """``BARGE_IN_REACTION_S`` on the engine's clock (divided by the pace's speed factor)."""


@dataclass(frozen=True, slots=True)
class ErrorReceived:
    """An ``error`` event ended the turn (no response.done will follow)."""

    code: str | None
    at_announced_end: bool = False
    """It came when the provider had said the session would end (its cap, or a ``goAway``'s time left)."""


@dataclass(frozen=True, slots=True)
class ConnectionEnded:
    """The socket ended before we finished. ``code`` is None when no close frame came."""

    code: int | None
    reason: str
    frame_received: bool
    at_announced_end: bool = False
    """It ended when the provider had said it would (its cap, or a ``goAway``'s time left): whatever the code,
    and with or without a close frame, as Gemini's cap closes come as 1000, 1006 or 1011."""


@dataclass(frozen=True, slots=True)
class DeadlinePassed:
    """The turn deadline passed with the socket still open."""

    first_audio_seen: bool


@dataclass(frozen=True, slots=True)
class HandshakeRejected:
    """The handshake failed: an HTTP status, or None when the connection itself failed."""

    http_status: int | None


@dataclass(frozen=True, slots=True)
class ProtocolBroken:
    """The server sent something the protocol does not allow."""


@dataclass(frozen=True, slots=True)
class ConfigurationRejected:
    """The server refused our session configuration: the session would run on its defaults."""


@dataclass(frozen=True, slots=True)
class HarnessStopped:
    """Locust stopped the user."""


Observation = (
    ResponseEnded
    | ErrorReceived
    | ConnectionEnded
    | DeadlinePassed
    | HandshakeRejected
    | ProtocolBroken
    | ConfigurationRejected
    | HarnessStopped
)


def _mentions_session_cap(text: str | None) -> bool:
    lowered = (text or "").lower()
    return any(marker in lowered for marker in _SESSION_CAP_MARKERS)


def classify(observation: Observation) -> FailureClass | None:
    """Map how a turn or session ended to a failure code; ``None`` means a healthy end."""
    match observation:
        case ResponseEnded(status="completed", streamed_after_barge_in_s=after, streamed_for_s=took) if (
            after is not None and after >= BARGE_IN_TOLERANCE_S and took >= observation.reaction_s
        ):
            return FailureClass.BARGE_IN_IGNORED
        case ResponseEnded(status="completed", audio_bytes=0):
            return FailureClass.ZERO_AUDIO
        case ResponseEnded(status="completed", peak_dbfs=peak, silence_floor_dbfs=floor) if peak < floor:
            return FailureClass.NEAR_SILENT
        case ResponseEnded(status="completed"):
            return None
        case ResponseEnded(status="failed"):
            return FailureClass.FAILED
        case ResponseEnded(status="cancelled", cancel_requested=True):
            return None
        case ResponseEnded(status="cancelled", streamed_after_barge_in_s=after) if after is not None:
            return None  # we spoke over it: stopping is what a good server does
        case ResponseEnded(status="cancelled"):
            return FailureClass.CANCELLED
        case ResponseEnded(status="incomplete"):
            return FailureClass.INCOMPLETE
        case ResponseEnded():
            return FailureClass.PROTOCOL_UNEXPECTED
        case ErrorReceived(at_announced_end=True):
            return FailureClass.SESSION_EXPIRED
        case ErrorReceived(code=code) if _mentions_session_cap(code):
            return FailureClass.SESSION_EXPIRED
        case ErrorReceived():
            return FailureClass.SERVER_ERROR_EVENT
        case ConnectionEnded(at_announced_end=True):
            return FailureClass.SESSION_EXPIRED
        case ConnectionEnded(frame_received=False):
            return FailureClass.CLOSED_NO_FRAME
        case ConnectionEnded(code=1001, reason=reason) if _mentions_session_cap(reason):
            return FailureClass.SESSION_EXPIRED
        case ConnectionEnded():
            return FailureClass.CLOSED_FRAME
        case DeadlinePassed(first_audio_seen=False):
            return FailureClass.TIMEOUT_FIRST_AUDIO
        case DeadlinePassed():
            return FailureClass.TIMEOUT_STALL
        case HandshakeRejected():
            return FailureClass.CONNECT_REJECTED
        case ProtocolBroken():
            return FailureClass.PROTOCOL_UNEXPECTED
        case ConfigurationRejected():
            return FailureClass.SERVER_ERROR_EVENT
        case HarnessStopped():
            return FailureClass.HARNESS_STOPPED
    raise TypeError(f"not an observation: {observation!r}")
