"""When the provider said a connection would end: a known session cap, or a ``goAway`` with its time left.

A connection that ends then (with or without a close frame, whatever its code) ended as announced:
``session.expired``, censored, not a failure. One that ends well before it did not, and is the failure it looks
like. The slack allows for the two messages crossing the network at different speeds, and for caps that are only
known roughly (Azure's "about 30 minutes").
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_SLACK_S = 0.25
SLACK_SHARE = 0.05  # of the notice: 2.5 s of a 50 s goAway, 90 s of a 30-minute cap


@dataclass(frozen=True, slots=True)
class AnnouncedEnd:
    at: float
    """Monotonic seconds when the provider will end the connection."""
    notice_s: float
    """How long before ``at`` it said so."""
    by_go_away: bool
    """Said by the server (``goAway``) rather than known in advance (a provider's cap)."""

    @classmethod
    def session_cap(cls, connected_at: float, cap_s: float | None) -> AnnouncedEnd | None:
        return None if cap_s is None else cls(connected_at + cap_s, cap_s, by_go_away=False)

    def reached(self, now: float) -> bool:
        return now >= self.at - max(MIN_SLACK_S, SLACK_SHARE * self.notice_s)
