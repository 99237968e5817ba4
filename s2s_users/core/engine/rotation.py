"""Session rotation, the seed's mitigation: a fresh provider session, at a turn boundary, that goes on with the same
conversation from a summary of it.

Pure: ``RotationPolicy`` says when (assistant audio in the current provider session, or its turns), and
``ConversationMemory`` keeps what the summary is made of (the assistant's transcripts, bounded) and writes it.
Why a conversation changes connection is a ``Handover``: a rotation, a resumption after Gemini's goAway, or a
provider cap with ``--reconnect-on-cap``. Only a resumption keeps the provider's own context; the others re-inject
the summary.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

SUMMARY_HEADER = "Summary of our conversation so far, for context (continue it naturally):"


class Handover(enum.Enum):
    RESUME = "resume"
    """The server announced its end and offered to resume (Gemini's goAway with a handle): its context goes on."""
    ROTATE = "rotate"
    """Our own rotation (``--rotate-after``): a fresh session, the summary re-injected."""
    CAP = "cap"
    """The provider's session cap ended the connection (``--reconnect-on-cap``): a fresh session, the summary."""

    @property
    def reinjects(self) -> bool:
        return self is not Handover.RESUME


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """When a conversation moves to a fresh provider session (None: never by that measure)."""

    after_audio_s: float | None = None
    after_turns: int | None = None

    @property
    def enabled(self) -> bool:
        return self.after_audio_s is not None or self.after_turns is not None

    def due(self, audio_s: float, turns: int) -> bool:
        """``audio_s`` and ``turns``: what the current provider session has played so far."""
        if self.after_audio_s is not None and audio_s >= self.after_audio_s:
            return True
        return self.after_turns is not None and turns >= self.after_turns


class ConversationMemory:
    """The assistant's transcripts of the turns so far, the newest kept up to ``budget_chars`` (and no more)."""

    def __init__(self, budget_chars: int) -> None:
        self.budget_chars = budget_chars
        self._turns: deque[tuple[int, str]] = deque()
        self._chars = 0
        self._heard: list[str] = []

    def hear(self, transcript_delta: str) -> None:
        """A piece of the running turn's answer transcript."""
        self._heard.append(transcript_delta)

    def turn_ended(self, turn: int) -> None:
        """The running turn ended: what was heard of its answer is remembered as that turn's."""
        self.remember(turn, "".join(self._heard))
        self._heard.clear()

    def remember(self, turn: int, transcript: str) -> None:
        text = " ".join(transcript.split())
        if not text or self.budget_chars <= 0:
            return
        self._turns.append((turn, text))
        self._chars += len(text)
        while self._turns and self._chars - len(self._turns[0][1]) >= self.budget_chars:
            self._chars -= len(self._turns.popleft()[1])

    def summary(self) -> str:
        """What is re-injected into a fresh session: the newest transcripts, cut to the budget at the front."""
        if not self._turns:
            return ""
        lines = [f"Turn {turn}, assistant: {text}" for turn, text in self._turns]
        body = "\n".join(lines)
        room = max(self.budget_chars - len(SUMMARY_HEADER) - 1, 0)
        if len(body) > room:
            body = "…" + body[len(body) - room + 1 :]
        return f"{SUMMARY_HEADER}\n{body}"[: max(self.budget_chars, 0)]
