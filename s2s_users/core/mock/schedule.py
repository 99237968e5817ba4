"""A mock session's timeline, for both protocols: what goes out when, and what the session does on the way.

Outputs (a message, a close frame, a TCP abort), response streams and the session's own markers wait in a heap by
due time, in push order at equal times. ``due(now)`` hands back the outputs due by ``now``, in that order, and
runs what else comes due on the way: a stream makes its next step (what that step sends is due at once), a marker
goes to the session's ``on_marker``, an audio message's samples to its ``on_audio``. Both run in order with the
outputs, not after them: the truth log counts audio as it goes out, and a barge-in cancel reads what has.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Generic, TypeVar

from s2s_users.core.mock.outputs import Abort, CloseWithFrame, EndResponse, Output, Send, Stream

Marker = TypeVar("Marker")
"""The session's own queue markers (a response's end, a barge-in's cancel, a goAway to announce...)."""


class OutputSchedule(Generic[Marker]):
    """One session's timed outputs, streams and markers."""

    def __init__(self, on_marker: Callable[[Marker, float], None], on_audio: Callable[[Send, float], None]) -> None:
        self._on_marker = on_marker
        self._on_audio = on_audio
        self._queue: list[tuple[float, int, Output | Stream | Marker]] = []
        self._seq = itertools.count()  # breaks ties: what is due at the same time goes out in push order

    def push(self, at: float, item: Output | Stream | Marker) -> None:
        heapq.heappush(self._queue, (at, next(self._seq), item))

    def play(self, stream: Stream) -> None:
        """Run a stream's next step and queue the stream again for the one after (none: the stream is over)."""
        due = next(stream.steps, None)
        if due is not None:
            self.push(due, stream)

    def next_due(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def due(self, now: float) -> list[Output]:
        out: list[Output] = []
        queue = self._queue  # the hot path (every audio delta of every session); drop and clear keep this list
        while queue and queue[0][0] <= now:
            item = heapq.heappop(queue)[2]
            if isinstance(item, Stream):
                self.play(item)
            elif isinstance(item, Send):
                out.append(item)
                if item.audio_samples:
                    self._on_audio(item, now)
            elif isinstance(item, CloseWithFrame | Abort):
                out.append(item)
                break  # the connection is over: what is still queued never goes out
            else:
                self._on_marker(item, now)
        return out

    def drop(self, response_id: str) -> None:
        """Forget what is still queued of a response: its messages, the rest of its stream, its end marker."""
        kept = [entry for entry in self._queue if not _belongs_to(entry[2], response_id)]
        heapq.heapify(kept)
        self._queue[:] = kept  # in place: a ``due`` running a marker that drops goes on with what is kept

    def clear(self) -> None:
        self._queue.clear()


def _belongs_to(item: object, response_id: str) -> bool:
    return isinstance(item, Send | Stream | EndResponse) and item.response_id == response_id


def ending(outputs: list[Output], cap: CloseWithFrame) -> str | None:
    """How the connection ended, for the truth log, when ``outputs`` (one ``due``'s) end it; else None."""
    match outputs[-1:]:
        case [CloseWithFrame(code=code) as close]:
            return "session_cap" if close == cap else f"closed {code}"
        case [Abort()]:
            return "aborted"
    return None
