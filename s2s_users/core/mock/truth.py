"""What a mock session really did, for its truth log: faults, audio sent per turn, every response, the end.

The tester's findings are checked against this, line by line (the test suite does it for every fault and for
turn-taking): so it counts what actually went out, delta by delta, not what was planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from s2s_users.core.protocols.openai_wire import SAMPLE_RATE


@dataclass(slots=True)
class ResponseTruth:
    """One response: its turn, whether the user asked for it (and why not), and what it really sent."""

    turn: int
    answer: int
    """Answers to what the user said so far (leftover responses are not counted)."""
    solicited: bool
    reason: str | None
    leading_silence_s: float
    audio_samples: int = 0
    interrupted_at: float | None = None
    """When the user started speaking over it (server time)."""
    last_audio_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "turn": self.turn,
            "solicited": self.solicited,
            "reason": self.reason,
            "audio_s": round(self.audio_samples / SAMPLE_RATE, 6),
            "leading_silence_s": self.leading_silence_s,
        }
        if self.interrupted_at is not None:
            last = self.last_audio_at if self.last_audio_at is not None else self.interrupted_at
            out["barge_in"] = {"stop_latency_s": round(max(last - self.interrupted_at, 0.0), 6)}
        return out


@dataclass(slots=True)
class Truth:
    """The session's account of itself, as it goes."""

    session_id: str
    model: str
    faults: list[tuple[int, str]] = field(default_factory=list)
    responses: dict[str, ResponseTruth] = field(default_factory=dict)
    end_reason: str = "open"
    injected_chars: int = 0
    """Text the client added to the conversation (a summary after a rotation)."""
    answers: int = 0
    """Responses to what the user said (not counting those the VAD started on leftover audio)."""
    wall_offset: float = 0.0
    """Turns the session's clock into epoch seconds for the times below."""
    _sent_samples: dict[int, int] = field(default_factory=dict)
    _asked_at: dict[int, float] = field(default_factory=dict)
    _first_audio_at: dict[int, float] = field(default_factory=dict)

    def started(self, response_id: str, turn: int, unsolicited: str | None, leading_silence_s: float) -> None:
        """A response began: an answer, or one the user did not ask for (``unsolicited`` says why)."""
        self.answers += unsolicited is None
        self.responses[response_id] = ResponseTruth(
            turn, self.answers, unsolicited is None, unsolicited, leading_silence_s
        )

    def asked(self, turn: int, now: float) -> None:
        """A response was asked for (response.create, or server VAD's end of speech)."""
        self._asked_at[turn] = now

    def audio_sent(self, turn: int, response_id: str | None, samples: int, now: float) -> None:
        self._sent_samples[turn] = self._sent_samples.get(turn, 0) + samples
        self._first_audio_at.setdefault(turn, now)
        response = self.responses.get(response_id or "")
        if response is not None:
            response.audio_samples += samples
            response.last_audio_at = now

    def line(self, turns: int) -> dict[str, Any]:
        """The truth log's line for this session (``turns``: responses started)."""
        return {
            "session_id": self.session_id,
            "model": self.model,
            "turns": turns,
            "faults": [{"turn": turn, "fault": fault} for turn, fault in self.faults],
            "turn_audio_s": [round(self._sent_samples.get(t, 0) / SAMPLE_RATE, 6) for t in range(1, turns + 1)],
            "assistant_audio_s": round(sum(self._sent_samples.values()) / SAMPLE_RATE, 6),
            "responses": [response.to_dict() for response in self.responses.values()],
            "end": self.end_reason,
            "injected_chars": self.injected_chars,
            # When each turn's response was asked for and when its first audio delta went out, in epoch seconds
            # (None: no audio): the server's side of a client's TTFA.
            "turn_asked_at": self._wall(self._asked_at, turns),
            "turn_first_audio_at": self._wall(self._first_audio_at, turns),
        }

    def _wall(self, times: dict[int, float], turns: int) -> list[float | None]:
        return [round(times[t] + self.wall_offset, 6) if t in times else None for t in range(1, turns + 1)]
