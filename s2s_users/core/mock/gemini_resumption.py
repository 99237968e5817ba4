"""A Gemini Live session beyond one connection: what a resumption handle brings back, and the handles.

The server's session outlives its connection when ``setup`` asks for resumption: a new connection whose setup
carries a handle goes on with the same state (id, turns, audio in context, faults, what really happened for the
truth log). ``ResumptionRegistry`` is the server's memory of the handles it gave out, shared by its connections.
"""

from __future__ import annotations

import itertools
import random
import secrets
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from s2s_users.core.mock.profiles import ModelProfile
from s2s_users.core.protocols.gemini_wire import OUTPUT_RATE


@dataclass(slots=True)
class GeminiSessionState:
    """A session as a resumption handle brings it back: what the model has said and what it has in context."""

    profile: ModelProfile
    rng: random.Random
    session_id: str = field(default_factory=lambda: f"gsess_{secrets.token_hex(8)}")
    turn: int = 0
    assistant_audio_s: float = 0.0
    prompt_tokens: int = 0
    reported_prompt_tokens: int = 0
    connections: int = 0
    faults: list[tuple[int, str]] = field(default_factory=list)
    sent_samples: dict[int, int] = field(default_factory=dict)
    go_aways: list[dict[str, Any]] = field(default_factory=list)
    handles: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def audio_sent(self, turn: int, samples: int) -> None:
        self.sent_samples[turn] = self.sent_samples.get(turn, 0) + samples

    def truth(self, end_reason: str) -> dict[str, Any]:
        """The truth log's line: cumulative over the session's connections so far (``end_reason``: this one's)."""
        return {
            "session_id": self.session_id,
            "model": self.profile.name,
            "protocol": "gemini",
            "connection": self.connections,
            "turns": self.turn,
            "faults": [{"turn": turn, "fault": fault} for turn, fault in self.faults],
            "turn_audio_s": [round(self.sent_samples.get(t, 0) / OUTPUT_RATE, 6) for t in range(1, self.turn + 1)],
            "assistant_audio_s": round(sum(self.sent_samples.values()) / OUTPUT_RATE, 6),
            "go_away": list(self.go_aways),
            "end": end_reason,
        }


class ResumptionRegistry:
    """Resumption handles → sessions, across connections; the oldest are forgotten past ``limit``."""

    def __init__(self, limit: int = 10_000) -> None:
        self._sessions: OrderedDict[str, GeminiSessionState] = OrderedDict()
        self._limit = limit

    def issue(self, state: GeminiSessionState) -> str:
        handle = f"{state.session_id}-h{next(state.handles)}"
        self._sessions[handle] = state
        while len(self._sessions) > self._limit:
            self._sessions.popitem(last=False)
        return handle

    def get(self, handle: str) -> GeminiSessionState | None:
        return self._sessions.get(handle)
