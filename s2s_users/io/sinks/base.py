"""Where records go: the ``Sink`` protocol every sink implements."""

from __future__ import annotations

from typing import Protocol

from s2s_users.core.metrics.records import SessionLabels, SessionRecord, TurnRecord


class Sink(Protocol):
    """Receives records as they happen. Implementations must never block the caller on the network."""

    def write_turn(self, labels: SessionLabels, session_id: str, turn: TurnRecord) -> None:
        """A turn ended (called from the user's greenlet, right away)."""

    def write_session(self, record: SessionRecord) -> None:
        """A session ended; ``record.turns`` holds every turn again."""

    def close(self) -> None:
        """Flush what is pending and release resources (end of run)."""
