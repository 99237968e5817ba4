"""Silence streamed between turns in server-VAD mode, so that the server's voice detection keeps running.

A server whose VAD hears nothing after a prompt may never decide that the user stopped speaking (Gemini's
automatic activity detection works on the audio it receives, and some services time out a silent client), so from
the end of a prompt to the start of the next one the engine keeps sending silent chunks at the prompt's pace.
"""

from __future__ import annotations

from s2s_users.core.engine.pacing import ChunkPacer, Pace


class SilenceCarrier:
    """Silent chunks due from ``start`` on, one per ``chunk_s`` (at ``pace``; burst pacing carries in real time)."""

    def __init__(self, chunk_b64: str, start: float, chunk_s: float, pace: Pace) -> None:
        self.chunk_b64 = chunk_b64
        self._pacer = ChunkPacer(start, chunk_s, pace if pace.speed is not None else Pace(1.0))
        self._sent = 0

    def next_due(self) -> float:
        return self._pacer.due(self._sent)

    def take_due(self, now: float) -> int:
        """How many chunks are due by ``now`` (counted as sent)."""
        due = 0
        while self._pacer.due(self._sent) <= now:
            self._sent += 1
            due += 1
        return due
