"""How a session, or the turn it is playing, ends: the code ``failures.classify()`` gives and the detail the record
keeps.

The engine says what it saw (a deadline passed, the connection ended, an error or a broken message arrived, Locust
stopped the user); the code always comes from ``classify()``, here, so that no end is decided anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from s2s_users.core import events as ev
from s2s_users.core import failures as fl
from s2s_users.core.failures import FailureClass


@dataclass(frozen=True, slots=True)
class Ending:
    code: FailureClass
    detail: str


def classified(observation: fl.Observation) -> FailureClass:
    """The code of an observation that is never a healthy end (each caller's observation is a failure or a
    censored end by construction)."""
    code = fl.classify(observation)
    assert code is not None, observation
    return code


def error_text(error: ev.ServerError) -> str:
    return f"{error.code or error.type or 'error'}: {error.message}"


def setup_timed_out(waiting_for: str, timeout_s: float) -> Ending:
    return Ending(classified(fl.DeadlinePassed(first_audio_seen=False)), f"no {waiting_for} within {timeout_s:g} s")


def turn_timed_out(first_audio_seen: bool, timeout_s: float, after_go_away: bool) -> Ending:
    waited = "the next event" if first_audio_seen else "first audio"
    detail = f"no {waited} within {timeout_s:g} s"
    if after_go_away:
        detail += " (the server had sent goAway)"  # and then went silent instead of closing
    return Ending(classified(fl.DeadlinePassed(first_audio_seen=first_audio_seen)), detail)


def response_stalled(response_id: str, first_audio_seen: bool, timeout_s: float) -> Ending:
    detail = f"no event of response {response_id} within {timeout_s:g} s"
    return Ending(classified(fl.DeadlinePassed(first_audio_seen=first_audio_seen)), detail)


def error_ends_turn(error: ev.ServerError) -> Ending:
    return Ending(classified(fl.ErrorReceived(error.code)), error_text(error))


def configuration_rejected(error: ev.ServerError) -> Ending:
    # A rejected session.update leaves the session on its defaults: measuring it would be a lie.
    return Ending(classified(fl.ConfigurationRejected()), f"session.update rejected: {error_text(error)}")


def server_ended(why: ev.MalformedMessage | ev.ServerError, at_announced_end: bool) -> Ending:
    """A message that ends the session: one we cannot read, or the provider's error (its cap, said in an error)."""
    if isinstance(why, ev.MalformedMessage):
        return Ending(classified(fl.ProtocolBroken()), why.detail)
    return Ending(classified(fl.ErrorReceived(why.code, at_announced_end=at_announced_end)), error_text(why))


def connect_failed(http_status: int | None, detail: str) -> Ending:
    return Ending(classified(fl.HandshakeRejected(http_status)), detail)


def stopped() -> Ending:
    """Locust stopped the user: censored here, never a failure."""
    return Ending(classified(fl.HarnessStopped()), "stopped by the load test")


def connection_ended(
    code: int | None, reason: str, frame_received: bool, at_announced_end: bool, early_by_s: float | None
) -> Ending:
    """The socket closed or dropped under us; ``early_by_s``: how long before its goAway said it would."""
    observed = fl.ConnectionEnded(
        code=code, reason=reason, frame_received=frame_received, at_announced_end=at_announced_end
    )
    detail = f"close {code} {reason}".strip() if frame_received else "no close frame received or sent"
    if early_by_s is not None:
        detail += f" ({early_by_s:.2f} s before its goAway said)"
    return Ending(classified(observed), detail)
