"""classify() maps every way a turn or session can end to exactly one taxonomy code."""

from __future__ import annotations

import math

import pytest

from s2s_users.core import failures as fl
from s2s_users.core.failures import FailureClass as F
from s2s_users.core.failures import FailureKind, kind_of


def done(
    status: str,
    audio_bytes: int = 4800,
    peak: float = -6.0,
    cancel_requested: bool = False,
    after_barge_in_s: float | None = None,
    streamed_for_s: float = 2.0,
) -> fl.ResponseEnded:
    return fl.ResponseEnded(
        status=status,
        audio_bytes=audio_bytes,
        peak_dbfs=peak,
        silence_floor_dbfs=-50.0,
        cancel_requested=cancel_requested,
        streamed_after_barge_in_s=after_barge_in_s,
        streamed_for_s=streamed_for_s,
    )


CASES: list[tuple[fl.Observation, F | None]] = [
    (done("completed"), None),
    (done("completed", audio_bytes=0, peak=-math.inf), F.ZERO_AUDIO),
    (done("completed", peak=-70.0), F.NEAR_SILENT),
    (done("failed"), F.FAILED),
    (done("incomplete"), F.INCOMPLETE),
    (done("cancelled"), F.CANCELLED),
    (done("cancelled", cancel_requested=True), None),
    (done("in_progress"), F.PROTOCOL_UNEXPECTED),
    # We spoke over the answer: stopping is right, streaming on to the end is not, a little more audio is fine.
    (done("cancelled", after_barge_in_s=0.2), None),
    (done("completed", after_barge_in_s=0.3), None),
    (done("completed", after_barge_in_s=fl.BARGE_IN_TOLERANCE_S + 2.0), F.BARGE_IN_IGNORED),
    # an answer that ended sooner than any server could react was not ignoring us, whatever audio it still held
    (done("completed", after_barge_in_s=fl.BARGE_IN_TOLERANCE_S + 2.0, streamed_for_s=0.1), None),
    (fl.ErrorReceived("conversation_already_has_active_response"), F.SERVER_ERROR_EVENT),
    (fl.ErrorReceived(None), F.SERVER_ERROR_EVENT),
    (fl.ErrorReceived("session_expired"), F.SESSION_EXPIRED),
    (fl.ErrorReceived(None, at_announced_end=True), F.SESSION_EXPIRED),  # Azure's generic error at its cap
    # A connection that ends when the provider said it would (goAway's time left, a known cap), however it ends.
    (fl.ConnectionEnded(code=None, reason="", frame_received=False, at_announced_end=True), F.SESSION_EXPIRED),
    (
        fl.ConnectionEnded(code=1011, reason="Deadline expired", frame_received=True, at_announced_end=True),
        F.SESSION_EXPIRED,
    ),
    (fl.ConnectionEnded(code=1000, reason="", frame_received=True, at_announced_end=True), F.SESSION_EXPIRED),
    (fl.ConnectionEnded(code=None, reason="", frame_received=False), F.CLOSED_NO_FRAME),
    (fl.ConnectionEnded(code=1011, reason="internal error", frame_received=True), F.CLOSED_FRAME),
    (fl.ConnectionEnded(code=1000, reason="", frame_received=True), F.CLOSED_FRAME),
    (
        fl.ConnectionEnded(
            code=1001, reason="Your session hit the maximum duration of 60 minutes.", frame_received=True
        ),
        F.SESSION_EXPIRED,
    ),
    (fl.ConnectionEnded(code=1001, reason="going away", frame_received=True), F.CLOSED_FRAME),
    (fl.DeadlinePassed(first_audio_seen=False), F.TIMEOUT_FIRST_AUDIO),
    (fl.DeadlinePassed(first_audio_seen=True), F.TIMEOUT_STALL),
    (fl.HandshakeRejected(401), F.CONNECT_REJECTED),
    (fl.HandshakeRejected(None), F.CONNECT_REJECTED),
    (fl.ProtocolBroken(), F.PROTOCOL_UNEXPECTED),
    (fl.ConfigurationRejected(), F.SERVER_ERROR_EVENT),
    (fl.HarnessStopped(), F.HARNESS_STOPPED),
]


@pytest.mark.parametrize(("observation", "expected"), CASES)
def test_classify(observation: fl.Observation, expected: F | None) -> None:
    assert fl.classify(observation) is expected


def test_every_code_is_reachable_by_classify_or_counted_from_events() -> None:
    reachable = {expected for _, expected in CASES if expected is not None}
    # context.truncated is counted from server events, not a way a turn ends; the master assigns
    # harness.worker_lost to the open sessions of a worker that died.
    assert reachable | {F.CONTEXT_TRUNCATED, F.WORKER_LOST} == set(F)


def test_every_code_has_an_explanation_of_one_line() -> None:
    assert set(fl.EXPLANATIONS) == set(F)
    assert all(text and "\n" not in text for text in fl.EXPLANATIONS.values())


def test_codes_are_dotted_strings() -> None:
    assert all(code.value.count(".") == 1 for code in F)


def test_silent_failures_are_the_ones_without_an_error_signal() -> None:
    assert fl.SILENT == {
        F.ZERO_AUDIO,
        F.NEAR_SILENT,
        F.CLOSED_NO_FRAME,
        F.TIMEOUT_FIRST_AUDIO,
        F.TIMEOUT_STALL,
    }
    assert fl.is_silent(F.ZERO_AUDIO) and not fl.is_silent(F.FAILED) and not fl.is_silent(None)


def test_expected_ends_and_harness_stops_are_not_failures() -> None:
    assert not fl.is_failure(F.SESSION_EXPIRED)
    assert not fl.is_failure(F.HARNESS_STOPPED)
    assert not fl.is_failure(None)
    assert fl.is_failure(F.CLOSED_NO_FRAME)


def test_classify_rejects_things_that_are_not_observations() -> None:
    with pytest.raises(TypeError):
        fl.classify("response.done")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        ("response.zero_audio", FailureKind.SILENT),
        ("transport.closed_no_frame", FailureKind.SILENT),
        ("response.failed", FailureKind.VISIBLE),
        ("connect.rejected", FailureKind.VISIBLE),
        ("ok", FailureKind.NONE),
        (None, FailureKind.NONE),
        ("harness.stopped", FailureKind.NONE),
        ("session.expired", FailureKind.NONE),
        ("some.future_code", FailureKind.NONE),
    ],
)
def test_every_outcome_is_a_silent_a_visible_or_no_failure(outcome: str | None, kind: FailureKind) -> None:
    assert kind_of(outcome) is kind
