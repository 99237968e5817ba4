"""What the turn engine asks of the connection (provider-neutral): the I/O loop hands these to the adapter.

The engine never calls the adapter (as h11's connection never touches a socket): it says what it wants done,
in order, and ``session.py`` (or an in-memory harness) turns each intent into the provider's messages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Configure:
    """Configure the session: turn mode, audio formats, voice, instructions."""


@dataclass(frozen=True, slots=True)
class AppendAudio:
    """One chunk of the user's prompt, base64 PCM16 (encoded once per process)."""

    audio_b64: str


@dataclass(frozen=True, slots=True)
class Commit:
    """The user's audio for this turn is complete (manual turns)."""


@dataclass(frozen=True, slots=True)
class CreateResponse:
    """Ask for the assistant's answer (manual turns)."""


@dataclass(frozen=True, slots=True)
class CancelResponse:
    """Stop the answer being given (manual turns: the caller spoke over it, and no server VAD will notice)."""


@dataclass(frozen=True, slots=True)
class InjectContext:
    """Add text to a fresh session's conversation before its first turn: the summary of the earlier sessions'
    turns (session rotation). It asks for no response."""

    text: str


Intent = Configure | AppendAudio | Commit | CreateResponse | CancelResponse | InjectContext
