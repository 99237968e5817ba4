"""OpenAI Realtime (GA) and Azure OpenAI realtime, sans-I/O.

Messages in (``receive_message``) → neutral events out (``events_received``); intents in (``configure``,
``append_audio``, ``commit``, ``create_response``) → JSON text messages out (``messages_to_send``). No socket,
no clock, no gevent: ``session.py`` moves the bytes.

Wire facts (shared/reference/protocols.md §1): GA needs ``session.type: "realtime"``; audio is PCM16 mono
24 kHz, base64 in JSON; live servers still send some beta names, which we accept and count.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from s2s_users.core import events as ev
from s2s_users.core.exceptions import ConfigError
from s2s_users.core.intents import (
    AppendAudio,
    CancelResponse,
    Commit,
    Configure,
    CreateResponse,
    InjectContext,
    Intent,
)
from s2s_users.core.protocols.openai_deltas import DELTA_PREFIXES, read_audio_delta
from s2s_users.core.protocols.openai_wire import AUDIO_FORMAT, GA_NAMES, SAMPLE_RATE
from s2s_users.core.protocols.reading import audio_delta as _audio_delta
from s2s_users.core.protocols.reading import count as _int
from s2s_users.core.protocols.reading import count_unknown, load_json
from s2s_users.core.protocols.reading import field as _field
from s2s_users.core.protocols.reading import text as _text
from s2s_users.core.redact import redact_url

# Beta names that live servers have been seen sending, mapped to their GA names (counted as legacy events).
LEGACY_NAMES = GA_NAMES

# GA server events that carry nothing the turn engine needs; known, so not "unknown".
_QUIET_EVENTS = frozenset(
    {
        "conversation.created",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.retrieved",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.cleared",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.output_text.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "rate_limits.updated",
    }
)


@dataclass(frozen=True, slots=True)
class RealtimeSettings:
    """What we ask of the session."""

    voice: str = "marin"
    instructions: str = "You are a friendly voice assistant. Answer conversationally in a few sentences."
    turn_mode: str = "manual"  # manual | server_vad


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """Where and how to open the WebSocket. ``headers`` hold the secret: never log them."""

    url: str
    headers: dict[str, str]

    def __repr__(self) -> str:
        return f"ConnectRequest(url={self.url!r}, headers=<{len(self.headers)} hidden>)"


def check_url(base_url: str) -> None:
    """Raise a one-line ``ConfigError`` (secrets masked) unless ``base_url`` is a ws:// or wss:// URL."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ConfigError(
            f"--s2s-url {redact_url(base_url)!r} is not a WebSocket URL: use wss://api.openai.com/v1/realtime "
            "(or ws://127.0.0.1:PORT/v1/realtime for a local server)"
        )


def connect_request(base_url: str, model: str, api_key: str) -> ConnectRequest:
    """Build the handshake for OpenAI (Bearer) or Azure (``api-key``) from a base URL and a model.

    ``base_url`` is e.g. ``wss://api.openai.com/v1/realtime`` or
    ``wss://RES.openai.azure.com/openai/v1/realtime``; ``model`` is appended as ``?model=``.
    """
    check_url(base_url)
    parts = urllib.parse.urlsplit(base_url)
    if not model:
        raise ConfigError("no model given: pass --s2s-model, e.g. --s2s-model gpt-realtime")
    query = urllib.parse.parse_qsl(parts.query)
    query = [(key, value) for key, value in query if key != "model"] + [("model", model)]
    url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    azure = parts.netloc.endswith(".openai.azure.com") or parts.path.startswith("/openai/")
    headers = {"api-key": api_key} if azure else {"Authorization": f"Bearer {api_key}"}
    return ConnectRequest(url=url, headers=headers)


def parse_usage(usage: Any) -> ev.Usage | None:
    """Read a ``response.done`` usage block; tolerant of missing parts and wrong shapes."""
    if not isinstance(usage, dict):
        return None
    inp = usage.get("input_token_details")
    out = usage.get("output_token_details")
    return ev.Usage(
        input_tokens=_int(usage.get("input_tokens")),
        output_tokens=_int(usage.get("output_tokens")),
        input_audio_tokens=_int(_field(inp, "audio_tokens")),
        input_text_tokens=_int(_field(inp, "text_tokens")),
        cached_tokens=_int(_field(inp, "cached_tokens")),
        output_audio_tokens=_int(_field(out, "audio_tokens")),
        output_text_tokens=_int(_field(out, "text_tokens")),
    )


def _optional_int(value: Any) -> int | None:
    """A JSON integer in the sane range (as ``_int``), or None when absent or not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53 else None


# The prompt's chunks are the same strings in every session of a process (the script is built once), so each
# append's JSON text is built once too and shared: this is the hot path (50 messages/s per session at 20 ms chunks).
# Keyed by the chunk (its hash is cached in the string); bounded, in case scripts keep changing from the web UI.
_APPENDS: dict[str, str] = {}
_MAX_APPENDS = 200_000


def append_message(audio_b64: str) -> str:
    """The ``input_audio_buffer.append`` text for a base64 chunk (by concatenation: base64 needs no escaping)."""
    message = _APPENDS.get(audio_b64)
    if message is None:
        if len(_APPENDS) >= _MAX_APPENDS:
            _APPENDS.clear()
        message = _APPENDS[audio_b64] = '{"type":"input_audio_buffer.append","audio":"' + audio_b64 + '"}'
    return message


class OpenAIRealtimeProtocol:
    """One OpenAI Realtime GA session as a sans-I/O state holder."""

    provider = "openai"
    input_rate = SAMPLE_RATE
    output_rate = SAMPLE_RATE

    def __init__(self, settings: RealtimeSettings, counts: ev.ProtocolCounts | None = None) -> None:
        """``counts``: a conversation's counts, carried over from its previous connection (a rotation)."""
        self.settings = settings
        self.counts = counts if counts is not None else ev.ProtocolCounts()
        """Beta-named events the server sent, and event types we do not know (by type)."""
        self.config_event_id: str | None = None
        """The ``event_id`` of our ``session.update``, to tell its errors apart."""
        self._events: list[ev.Event] = []
        self._outgoing: list[str] = []
        self._next_id = 0

    @property
    def legacy_events(self) -> int:
        return self.counts.legacy_events

    @property
    def unknown_events(self) -> dict[str, int]:
        return self.counts.unknown_events

    # --- intents → messages ---------------------------------------------------------------------------

    def apply(self, intent: Intent) -> None:
        """Queue the messages that carry out one of the engine's intents."""
        match intent:
            case AppendAudio(audio_b64=audio_b64):
                self.append_audio(audio_b64)
            case Configure():
                self.configure()
            case Commit():
                self.commit()
            case CreateResponse():
                self.create_response()
            case CancelResponse():
                self.cancel_response()
            case InjectContext(text=text):
                # A system message: context for the model, not something the user said (no response is asked).
                content = [{"type": "input_text", "text": text}]
                self._send({"type": "conversation.item.create", "item": {"type": "message", "role": "system",
                                                                          "content": content}})  # fmt: skip

    def _event_id(self) -> str:
        self._next_id += 1
        return f"evt_s2s_{self._next_id}"

    def _send(self, message: dict[str, Any]) -> str:
        event_id = self._event_id()
        message["event_id"] = event_id
        self._outgoing.append(json.dumps(message, separators=(",", ":")))
        return event_id

    def configure(self) -> None:
        """Queue the GA ``session.update``: audio in/out PCM 24 kHz, voice, instructions, turn mode."""
        turn_detection: dict[str, Any] | None
        if self.settings.turn_mode == "manual":
            turn_detection = None  # we commit and create responses ourselves: deterministic turn ends
        else:
            turn_detection = {"type": "server_vad", "create_response": True, "interrupt_response": True}
        audio_format = dict(AUDIO_FORMAT)
        session = {
            "type": "realtime",
            "output_modalities": ["audio"],
            "instructions": self.settings.instructions,
            "audio": {
                "input": {"format": audio_format, "turn_detection": turn_detection},
                "output": {"format": audio_format, "voice": self.settings.voice},
            },
        }
        self.config_event_id = self._send({"type": "session.update", "session": session})

    def append_audio(self, audio_b64: str) -> None:
        """Queue one ``input_audio_buffer.append``; ``audio_b64`` is pre-encoded once per process."""
        self._outgoing.append(append_message(audio_b64))

    def commit(self) -> None:
        self._send({"type": "input_audio_buffer.commit"})

    def create_response(self) -> None:
        self._send({"type": "response.create"})

    def cancel_response(self) -> None:
        self._send({"type": "response.cancel"})

    def messages_to_send(self) -> list[str]:
        """Return and forget the messages queued since the last call."""
        out, self._outgoing = self._outgoing, []
        return out

    # --- messages → events ----------------------------------------------------------------------------

    def events_received(self) -> list[ev.Event]:
        """Return and forget the events parsed since the last call."""
        out, self._events = self._events, []
        return out

    def receive_message(self, data: str | bytes) -> None:
        """Parse one server message into zero or one neutral event."""
        if isinstance(data, str) and data.startswith(DELTA_PREFIXES):
            delta = read_audio_delta(data)
            if delta is not None:  # the same event as the general path below gives, in one pass
                delta_kind, response_id, pcm = delta
                if delta_kind in LEGACY_NAMES:
                    self.counts.legacy_events += 1
                self._events.append(ev.AudioDelta(pcm, response_id))
                return
        message = load_json(data)
        if isinstance(message, ev.MalformedMessage):
            self._events.append(message)
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self._events.append(ev.MalformedMessage("message without a type"))
            return
        kind: str = message["type"]
        if kind in LEGACY_NAMES:
            self.counts.legacy_events += 1
            kind = LEGACY_NAMES[kind]
        self._events.append(self._parse(kind, message))

    def _parse(self, kind: str, message: dict[str, Any]) -> ev.Event:
        match kind:
            case "response.output_audio.delta":
                return _audio_delta(message.get("delta"), _text(message.get("response_id")) or "")
            case "response.output_audio_transcript.delta":
                return ev.TranscriptDelta(_text(message.get("delta")) or "", _text(message.get("response_id")) or "")
            case "response.output_text.delta":
                return ev.TextDelta(_text(message.get("delta")) or "", _text(message.get("response_id")) or "")
            case "response.created":
                return ev.ResponseCreated(_text(_field(message.get("response"), "id")) or "")
            case "response.done":
                return self._response_done(message.get("response"))
            case "session.created":
                return ev.SessionCreated(_text(_field(message.get("session"), "id")) or "")
            case "session.updated":
                return ev.SessionUpdated()
            case "input_audio_buffer.speech_started":
                return ev.SpeechStarted(_optional_int(message.get("audio_start_ms")))
            case "input_audio_buffer.speech_stopped":
                return ev.SpeechStopped(_optional_int(message.get("audio_end_ms")))
            case "input_audio_buffer.committed":
                return ev.InputCommitted()
            case "conversation.item.deleted" | "conversation.item.truncated":
                return ev.ContextTruncated(kind, _optional_int(message.get("audio_end_ms")))
            case "error":
                error = message.get("error")
                caused_by = _text(_field(error, "event_id"))
                return ev.ServerError(
                    code=_text(_field(error, "code")),
                    type=_text(_field(error, "type")),
                    message=_text(_field(error, "message")) or "",
                    caused_by=caused_by,
                    about_configuration=caused_by is not None and caused_by == self.config_event_id,
                )
        if kind in _QUIET_EVENTS:
            return ev.Ignored(kind)
        return count_unknown(self.counts, kind)

    @staticmethod
    def _response_done(response: Any) -> ev.ResponseDone:
        """A ``status`` that is missing or not text reads as "", which the taxonomy calls protocol.unexpected."""
        details = _field(response, "status_details")
        error = _field(details, "error")
        return ev.ResponseDone(
            response_id=_text(_field(response, "id")) or "",
            status=_text(_field(response, "status")) or "",
            reason=_text(_field(details, "reason")),
            error_type=_text(_field(error, "type")),
            error_code=_text(_field(error, "code")),
            error_message=_text(_field(error, "message")),
            usage=parse_usage(_field(response, "usage")),
        )
