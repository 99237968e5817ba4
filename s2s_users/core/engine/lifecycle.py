"""The provider connection a conversation is on: when its session must be set up by, when its end was announced (a
known cap, or goAway), and whether the engine let it go for a next one, and why.

A conversation can span several connections (a resumption after goAway, a rotation, a reconnect at the cap). This is
the part of the engine's state that starts over with each, and what crosses to the next: whether the new session is
a fresh one that goes on with the conversation, and the summary it is given (``ConversationMemory``).
"""

from __future__ import annotations

from s2s_users.core import events as ev
from s2s_users.core.engine.announced_end import AnnouncedEnd
from s2s_users.core.engine.rotation import ConversationMemory, Handover
from s2s_users.core.engine.settings import EngineSettings


class ConnectionLife:
    """Times are monotonic seconds."""

    def __init__(self, settings: EngineSettings, now: float) -> None:
        self._timeout_s = settings.turn_timeout_s
        self._cap_s = settings.session_cap_s
        self.setup_deadline = now + self._timeout_s
        self._announced_end = AnnouncedEnd.session_cap(now, self._cap_s)
        self.resume_offered = False
        """The server announced its end and offered to resume (Gemini's goAway with a handle)."""
        self.awaiting = False
        """The engine let this connection go (announced end, rotation, cap) and waits for the next one."""
        self.handover: Handover | None = None
        """Why the engine let the connection go (while ``awaiting``) or last did."""
        self._fresh_session = False
        self.memory = (
            ConversationMemory(settings.summary_chars)
            if settings.rotation.enabled or settings.reconnect_on_cap
            else None
        )
        """What a fresh session is told of the conversation so far (None: no handover ever needs it)."""

    # --- this connection --------------------------------------------------------------------------------

    def at_announced_end(self, now: float) -> bool:
        return self._announced_end is not None and self._announced_end.reached(now)

    @property
    def went_away(self) -> bool:
        """The server itself announced this connection's end (goAway)."""
        return self._announced_end is not None and self._announced_end.by_go_away

    def early_by(self, now: float) -> float | None:
        """How long before its goAway said the connection ended at ``now`` (None: no goAway, or it was on time)."""
        if self._announced_end is None or not self.went_away or self._announced_end.reached(now):
            return None
        return self._announced_end.at - now

    def going_away(self, notice: ev.GoingAway, now: float) -> None:
        left = max(notice.time_left_s or 0.0, 0.0)  # no time given: the end may come at any moment
        self._announced_end = AnnouncedEnd(now + left, left, by_go_away=True)
        self.resume_offered = notice.can_resume

    # --- from one connection to the next ----------------------------------------------------------------

    def let_go(self, why: Handover) -> None:
        self.handover = why
        self.resume_offered = False
        self._announced_end = None
        self.awaiting = True

    def reopened(self, now: float) -> Handover:
        """The next connection is open: its session must be set up in time. Returns why it was needed."""
        assert self.awaiting and self.handover is not None
        self.awaiting = False
        self.setup_deadline = now + self._timeout_s
        self._announced_end = AnnouncedEnd.session_cap(now, self._cap_s)
        self._fresh_session = self.handover.reinjects
        return self.handover

    def context_for_new_session(self) -> str:
        """What a fresh session that goes on with the conversation is told first ('' for none)."""
        return self.memory.summary() if self.memory is not None and self._fresh_session else ""

    def first_turn_here(self) -> bool:
        """Asked as each turn starts: True for the first turn of a fresh session (after a rotation or the cap)."""
        fresh, self._fresh_session = self._fresh_session, False
        return fresh
