"""The assistant's audio of a session's turns, kept for evidence (``--record-audio``).

The engine hands the tape every audio delta of the turn's own answer (the same bytes its record counts, so a
WAV of them lasts exactly the turn's ``assistant_audio_s``). What the tape keeps depends on what is recorded:

- ``failures``: the current turn and the one before it, until the session's first failure; then those two are
  held (the turn at the failure and the one before it) and nothing more is kept. At most two turns of PCM per
  session: about 1 MB at 24 kHz for two ten-second answers.
- ``all``: each turn, handed out when it ends (``take_finished``) to be written at once, then forgotten.
"""

from __future__ import annotations

from collections import deque


class AudioTape:
    """One session's recent turns of assistant PCM16 (mono, at the provider's output rate)."""

    def __init__(self, keep_all: bool = False) -> None:
        self.keep_all = keep_all
        self._turns: deque[tuple[int, list[bytes]]] = deque(maxlen=2)
        self._current: list[bytes] | None = None
        self._finished: list[tuple[int, bytes]] = []
        self._held = False

    def begin(self, turn: int) -> None:
        """A turn starts: its answer's audio goes to a new reel (the oldest of the last two is dropped)."""
        if self._held:
            return
        self._current = []
        self._turns.append((turn, self._current))

    def add(self, pcm: bytes) -> None:
        """Audio of the running turn's answer."""
        if self._current is not None:
            self._current.append(pcm)

    def turn_ended(self, turn: int, failed: bool) -> None:
        """The running turn ended; ``failed``: with the session's first failure (the tape then holds)."""
        self._current = None
        if self.keep_all:
            while self._turns:
                index, chunks = self._turns.popleft()
                self._finished.append((index, b"".join(chunks)))
        elif failed and not self._held:
            self._held = True

    def take_finished(self) -> list[tuple[int, bytes]]:
        """``all``: the turns ended since the last call, as (turn, PCM)."""
        out, self._finished = self._finished, []
        return out

    def held(self) -> list[tuple[int, bytes]]:
        """``failures``: the turn at the first failure and the one before it (once one happened), as (turn, PCM)."""
        if not self._held:
            return []
        return [(index, b"".join(chunks)) for index, chunks in self._turns]
