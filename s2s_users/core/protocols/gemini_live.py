"""Gemini Live (BidiGenerateContent over WebSocket), sans-I/O, beside the OpenAI adapter.

Intents in → JSON messages out; server frames in → the same neutral events as OpenAI's, so the engine, the
records and the taxonomy do not know which provider spoke. What Gemini does differently:

- ``setup`` is the first frame, queued when the adapter is made (the server says nothing before it);
  ``setupComplete`` opens the session and confirms the configuration at once (``SessionCreated`` then
  ``SessionUpdated``), so the engine's ``Configure`` has nothing left to send.
- Manual turns: automatic activity detection is off; a turn's audio goes between ``activityStart`` (sent before
  its first chunk) and ``activityEnd`` (our ``Commit``); the server answers by itself (``CreateResponse`` sends
  nothing). Server-VAD turns: audio only, the server's detection decides.
- There is no response object: audio comes in ``serverContent.modelTurn.parts[].inlineData``; ``turnComplete``
  ends the turn and becomes ``ResponseDone``, with a status read from what came before it: ``interrupted`` →
  cancelled; a ``turnCompleteReason`` that reports a server-side refusal → failed; audio cut off by a
  ``turnComplete`` without ``generationComplete`` (once the server has shown it sends those) → incomplete;
  otherwise completed (zero audio then makes it ``response.zero_audio``, the silent failure).
- Usage comes in ``usageMetadata`` (kept for the next ``turnComplete``; same frame or earlier); a prompt token
  count that falls from one turn to the next means the server dropped context (``ContextTruncated``).
- ``goAway{timeLeft}`` announces the end of the connection (``GoingAway``); ``sessionResumptionUpdate`` hands
  out the handle with which a new connection resumes the session.
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from s2s_users.core import events as ev
from s2s_users.core.intents import AppendAudio, Commit, InjectContext, Intent
from s2s_users.core.protocols import gemini_wire as wire
from s2s_users.core.protocols.openai_realtime import ConnectRequest, check_url
from s2s_users.core.protocols.reading import audio_delta, count, count_unknown, load_json, text
from s2s_users.core.protocols.reading import field as get

DEFAULT_VOICE = "Puck"
#: Known fields that carry nothing for the engine (we declare no tools; voice activity is informational).
_FIELDS_WITHOUT_EVENTS = frozenset(
    {"toolCall", "toolCallCancellation", "voiceActivityDetectionSignal", "voiceActivity"}
)
_AUDIO_OPEN = '{"realtimeInput":{"audio":{"mimeType":"' + wire.INPUT_MIME + '","data":"'
_ACTIVITY_START = '{"realtimeInput":{"activityStart":{}}}'
_ACTIVITY_END = '{"realtimeInput":{"activityEnd":{}}}'


@dataclass(frozen=True, slots=True)
class GeminiSettings:
    """What we ask of the session. ``model`` goes in ``setup`` (Gemini's URL does not name it)."""

    model: str
    voice: str = DEFAULT_VOICE
    instructions: str = "You are a friendly voice assistant. Answer conversationally in a few sentences."
    turn_mode: str = "manual"  # manual | server_vad
    resume: bool = False
    """Ask for resumption handles, so that a conversation can go on on a new connection after ``goAway``."""


def connect_request(base_url: str, api_key: str) -> ConnectRequest:
    """The handshake: the key as ``x-goog-api-key`` (a ``?key=`` the URL already has is left as it is)."""
    check_url(base_url)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(base_url).query)
    headers = {} if "key" in query else {"x-goog-api-key": api_key}
    return ConnectRequest(url=base_url, headers=headers)


@dataclass(slots=True)
class _Turn:
    """What the running model turn has shown so far (reset at each ``turnComplete``)."""

    audio_bytes: int = 0
    generation_complete: bool = False
    interrupted: bool = False
    usage: ev.Usage | None = None


@dataclass(slots=True)
class _Session:
    """What the adapter learns about the server over the whole connection."""

    turns: int = 0
    sends_generation_complete: bool = False
    last_prompt_tokens: int | None = None
    handle: str | None = None
    turn: _Turn = field(default_factory=_Turn)


class GeminiLiveProtocol:
    """One Gemini Live connection as a sans-I/O state holder; ``resumption_handle`` resumes an earlier one."""

    provider = "gemini"
    input_rate = wire.INPUT_RATE
    output_rate = wire.OUTPUT_RATE

    def __init__(
        self, settings: GeminiSettings, counts: ev.ProtocolCounts | None = None, resumption_handle: str | None = None
    ) -> None:
        self.settings = settings
        self.counts = counts if counts is not None else ev.ProtocolCounts()
        """Unknown top-level fields, by name (Gemini has no legacy names); shared across resumed connections."""
        self._state = _Session(handle=resumption_handle)
        self._events: list[ev.Event] = []
        self._in_activity = False
        self._outgoing = [self._setup(resumption_handle)]

    @property
    def resumption_handle(self) -> str | None:
        """The newest handle the server said a new connection may resume with."""
        return self._state.handle

    # --- intents → messages ---------------------------------------------------------------------------

    def _setup(self, handle: str | None) -> str:
        model = self.settings.model if self.settings.model.startswith("models/") else f"models/{self.settings.model}"
        voice = {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": self.settings.voice}}}
        setup: dict[str, Any] = {
            "model": model,
            "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": voice},
            "systemInstruction": {"parts": [{"text": self.settings.instructions}]},
            "outputAudioTranscription": {},  # transcript characters, as the OpenAI records have them
        }
        if self.settings.turn_mode == "manual":
            # Our activityStart/activityEnd mark each turn: its end is our own timestamp, as OpenAI's commit is.
            setup["realtimeInputConfig"] = {"automaticActivityDetection": {"disabled": True}}
        if self.settings.resume:
            setup["sessionResumption"] = {"handle": handle} if handle else {}
        return json.dumps({"setup": setup}, separators=(",", ":"))

    def apply(self, intent: Intent) -> None:
        """Queue the messages that carry out one of the engine's intents (``Configure``, ``CreateResponse`` and
        ``CancelResponse`` have none: ``setup`` went first, the server answers an ended activity by itself, and the
        next prompt's ``activityStart`` interrupts an answer)."""
        match intent:
            case AppendAudio(audio_b64=audio_b64):
                if self.settings.turn_mode == "manual" and not self._in_activity:
                    self._in_activity = True
                    self._outgoing.append(_ACTIVITY_START)
                # Built by concatenation: the hot path (50 messages/s per session at 20 ms chunks).
                self._outgoing.append(_AUDIO_OPEN + audio_b64 + '"}}}')
            case Commit() if self.settings.turn_mode == "manual":
                self._in_activity = False
                self._outgoing.append(_ACTIVITY_END)
            case InjectContext(text=text):
                # Earlier turns as conversation history; turnComplete false: it asks for no answer.
                turns = [{"role": "user", "parts": [{"text": text}]}]
                self._outgoing.append(json.dumps({"clientContent": {"turns": turns, "turnComplete": False}}))

    def messages_to_send(self) -> list[str]:
        """Return and forget the messages queued since the last call (``setup`` first)."""
        out, self._outgoing = self._outgoing, []
        return out

    # --- messages → events ----------------------------------------------------------------------------

    def events_received(self) -> list[ev.Event]:
        out, self._events = self._events, []
        return out

    def receive_message(self, data: str | bytes) -> None:
        """Parse one server frame (text or binary JSON) into its events, in the order they matter."""
        message = load_json(data)
        if isinstance(message, ev.MalformedMessage):
            self._events.append(message)
            return
        if not isinstance(message, dict) or not message:
            self._events.append(ev.MalformedMessage("message is not a JSON object with fields"))
            return
        # Usage first: it belongs to the turnComplete that may share its frame; the handle before goAway, which
        # says whether we can resume.
        if "usageMetadata" in message:
            self._state.turn.usage = _usage(message["usageMetadata"])
        if "sessionResumptionUpdate" in message:
            self._resumption_update(message["sessionResumptionUpdate"])
        if "setupComplete" in message:
            session_id = text(get(message["setupComplete"], "sessionId")) or f"gemini_{secrets.token_hex(8)}"
            self._events += [ev.SessionCreated(session_id), ev.SessionUpdated()]
        if "serverContent" in message:
            self._server_content(message["serverContent"])
        if "goAway" in message:
            time_left = wire.parse_duration(get(message["goAway"], "timeLeft"))
            can_resume = self.settings.resume and self._state.handle is not None
            self._events.append(ev.GoingAway(time_left, can_resume))
        for key in message:
            if key in _FIELDS_WITHOUT_EVENTS:
                self._events.append(ev.Ignored(key))
            elif key not in wire.SERVER_KEYS:
                self._events.append(count_unknown(self.counts, key))

    def _resumption_update(self, update: Any) -> None:
        handle = text(get(update, "newHandle"))
        # resumable: false while a generation runs; the last resumable handle stays good until then.
        if handle and get(update, "resumable") is True:
            self._state.handle = handle
        self._events.append(ev.Ignored("sessionResumptionUpdate"))

    def _server_content(self, content: Any) -> None:
        if not isinstance(content, dict):
            self._events.append(ev.MalformedMessage("serverContent is not an object"))
            return
        turn = self._state.turn
        parts = get(get(content, "modelTurn"), "parts")
        for part in parts if isinstance(parts, list) else ():
            inline = get(part, "inlineData")
            if inline is not None:
                mime = text(get(inline, "mimeType")) or ""
                if not mime.startswith("audio/"):
                    self._events.append(ev.Ignored(f"inlineData {mime}"[:60]))
                    continue
                event = audio_delta(get(inline, "data"))
                if isinstance(event, ev.AudioDelta):
                    turn.audio_bytes += len(event.pcm)
                self._events.append(event)
            elif get(part, "thought") is not True and (said := text(get(part, "text"))):
                self._events.append(ev.TextDelta(said))
        if transcript := text(get(get(content, "outputTranscription"), "text")):
            self._events.append(ev.TranscriptDelta(transcript))
        if get(content, "generationComplete") is True:
            turn.generation_complete = True
            self._state.sends_generation_complete = True
        if get(content, "interrupted") is True:
            turn.interrupted = True
        if get(content, "turnComplete") is True:
            self._turn_complete(text(get(content, "turnCompleteReason")))

    def _turn_complete(self, reason: str | None) -> None:
        state, turn = self._state, self._state.turn
        state.turns += 1
        status, error_code = "completed", None
        if turn.interrupted:
            status, reason = "cancelled", "interrupted"  # we never barge in: the server cut its own answer
        elif reason is not None and reason not in wire.QUIET_TURN_END_REASONS:
            status, error_code = "failed", reason
        elif turn.audio_bytes and not turn.generation_complete and state.sends_generation_complete:
            status, reason = "incomplete", "turnComplete before generationComplete"
        if reason == "TURN_COMPLETE_REASON_UNSPECIFIED":
            reason = None
        usage = turn.usage
        if usage is not None:
            if state.last_prompt_tokens is not None and usage.input_tokens < state.last_prompt_tokens:
                self._events.append(ev.ContextTruncated("usageMetadata.promptTokenCount fell"))
            state.last_prompt_tokens = usage.input_tokens
        self._events.append(
            ev.ResponseDone(
                response_id=f"turn_{state.turns}",
                status=status,
                reason=reason if status != "failed" else None,
                error_type="turnCompleteReason" if error_code else None,
                error_code=error_code,
                usage=usage,
            )
        )
        state.turn = _Turn()


def _usage(metadata: Any) -> ev.Usage | None:
    """``usageMetadata`` as neutral usage (``responseTokenCount``, not ``candidatesTokenCount``, in Live)."""
    if not isinstance(metadata, dict):
        return None

    def by_modality(details: Any, modality: str) -> int:
        rows = details if isinstance(details, list) else ()
        return sum(count(get(row, "tokenCount")) for row in rows if get(row, "modality") == modality)

    prompt, response = metadata.get("promptTokensDetails"), metadata.get("responseTokensDetails")
    return ev.Usage(
        input_tokens=count(metadata.get("promptTokenCount")),
        output_tokens=count(metadata.get("responseTokenCount")),
        input_audio_tokens=by_modality(prompt, "AUDIO"),
        input_text_tokens=by_modality(prompt, "TEXT"),
        cached_tokens=count(metadata.get("cachedContentTokenCount")),
        output_audio_tokens=by_modality(response, "AUDIO"),
        output_text_tokens=by_modality(response, "TEXT"),
    )
