"""What the mock session hands its shell: messages to send, a close frame, a TCP abort; and its own queue markers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Send:
    text: str
    turn: int = 0
    audio_samples: int = 0
    """Assistant audio in this message (output audio deltas), counted in the truth log when it goes out."""
    response_id: str | None = None
    """The response this message belongs to (a cancel drops what is still queued of it)."""


@dataclass(frozen=True, slots=True)
class CloseWithFrame:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Abort:
    """Drop TCP without a close frame (clients report 1006)."""


Output = Send | CloseWithFrame | Abort


@dataclass(frozen=True, slots=True)
class EndResponse:
    """Internal marker: the response is over once its response.done has gone out."""

    response_id: str


@dataclass(frozen=True, slots=True)
class Stream:
    """Internal marker: a response's audio, produced step by step when due (never all at once at the start,
    which would make one response's set-up delay every other session's audio)."""

    response_id: str
    steps: Iterator[float]


@dataclass(frozen=True, slots=True)
class CancelAt:
    """Internal marker: the user spoke over this response; it is cancelled when this comes due."""

    response_id: str
