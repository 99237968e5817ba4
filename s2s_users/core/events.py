"""Provider-neutral events: what a protocol adapter turns server messages into.

Adapters emit only these; the turn engine consumes only these. Frozen and slotted, like h11's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of one response, as the provider reported it."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    cached_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0


@dataclass(slots=True)
class ProtocolCounts:
    """What a provider adapter counts as it reads, and a session record reports: beta-named and unknown events."""

    legacy_events: int = 0
    unknown_events: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SessionCreated:
    """The server opened the session (OpenAI ``session.created``, Gemini ``setupComplete``)."""

    session_id: str


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    """The server accepted our configuration."""


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Server VAD heard the user start speaking (``audio_start_ms`` into the session's input audio, if said)."""

    audio_start_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """Server VAD decided the user stopped speaking (``audio_end_ms`` into the session's input audio, if said)."""

    audio_end_ms: int | None = None


@dataclass(frozen=True, slots=True)
class InputCommitted:
    """The user's audio for this turn was committed to the conversation."""


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    """A response started."""

    response_id: str


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """A piece of assistant audio (PCM16 mono at the adapter's output rate); ``response_id`` when the wire says."""

    pcm: bytes
    response_id: str = ""


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    """A piece of the assistant's audio transcript."""

    text: str
    response_id: str = ""


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of text output (a response that answered in text instead of audio)."""

    text: str
    response_id: str = ""


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """A response ended; ``status`` is completed | failed | incomplete | cancelled."""

    response_id: str
    status: str
    reason: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class ServerError:
    """An ``error`` event. ``caused_by`` is the client event id the server blamed, when it said."""

    code: str | None
    type: str | None
    message: str
    caused_by: str | None = None
    about_configuration: bool = False
    """The server blamed our session configuration (our ``session.update``): the session would run on defaults."""


@dataclass(frozen=True, slots=True)
class ContextTruncated:
    """The server removed or shortened earlier conversation items (``audio_end_ms``: where it cut, if said)."""

    kind: str
    audio_end_ms: int | None = None


@dataclass(frozen=True, slots=True)
class GoingAway:
    """The server announced it will end the session soon (Gemini ``goAway``)."""

    time_left_s: float | None
    can_resume: bool = False
    """The adapter holds what it needs to go on with the conversation on a new connection (a resumption
    handle, and resuming was asked for)."""


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """A message type the adapter does not know: counted, never fatal."""

    type: str


@dataclass(frozen=True, slots=True)
class MalformedMessage:
    """A message that is not valid JSON or has no type."""

    detail: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A known event that carries nothing the engine needs (kept so adapters can count it)."""

    type: str = field(default="")


Event = (
    SessionCreated
    | SessionUpdated
    | SpeechStarted
    | SpeechStopped
    | InputCommitted
    | ResponseCreated
    | AudioDelta
    | TranscriptDelta
    | TextDelta
    | ResponseDone
    | ServerError
    | ContextTruncated
    | GoingAway
    | UnknownEvent
    | MalformedMessage
    | Ignored
)
