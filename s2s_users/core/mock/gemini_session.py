"""The mock's Gemini Live behaviour, sans-I/O, beside the OpenAI one (``behavior.py``): one connection's frames in,
timed outputs out, with the same profiles, faults, ceilings, time scale and truth log.

As the real service: ``setup`` must come first (the model is named there), ``setupComplete`` answers it; manual
turns are ``activityStart`` … ``activityEnd`` when automatic activity detection is disabled, otherwise the
server's voice detection ends turns; the answer streams as ``modelTurn`` audio, then ``generationComplete``, then
``turnComplete`` with ``usageMetadata``. What breaks the protocol ends the connection with a close frame, as
Google's proto parsing does (1007 invalid argument, 1008 unknown model). The connection cap is announced by a
``goAway`` ``go_away_s`` before ``session_cap_s``; then the server closes, goes silent, or closes early, as the
profile says. With ``sessionResumption`` in ``setup`` the server hands out handles; a new connection whose setup
carries one continues the same session (same id, turns, audio in context): ``gemini_resumption.py`` keeps it
between connections.

Each fault as Gemini shows it: zero audio = an empty ``turnComplete`` (``RESPONSE_REJECTED`` when the socket
stays open); failed = ``turnCompleteReason`` PROHIBITED_INPUT_CONTENT; incomplete = ``turnComplete`` before
``generationComplete``; cancelled = ``interrupted``; truncation = a sliding context window (the prompt token count
falls); error_close = a close frame before the answer (Gemini has no error message); the rest as for OpenAI.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from s2s_users.core.mock import gemini_shapes as shapes
from s2s_users.core.mock.gemini_resumption import GeminiSessionState, ResumptionRegistry
from s2s_users.core.mock.outputs import Abort, CloseWithFrame, EndResponse, Output, Send, Stream
from s2s_users.core.mock.profiles import Fault, ModelProfile
from s2s_users.core.mock.schedule import OutputSchedule, ending
from s2s_users.core.mock.vad import VoiceActivity
from s2s_users.core.mock.voice import delta_b64, transcript_word, voice_buffer
from s2s_users.core.protocols.gemini_wire import CAP_CLOSE, INPUT_RATE, OUTPUT_RATE, camel

INVALID_ARGUMENT = 1007
INTERNAL_ERROR = (1011, "Internal error encountered.")
_CAP_CLOSE = CloseWithFrame(*CAP_CLOSE)
_URL_SAFE = str.maketrans("-_", "+/")


@dataclass(frozen=True, slots=True)
class _Do:
    """Internal marker: something the session itself does when it is due (announce the cap, go silent)."""

    action: Callable[[float], None]


def _get(body: Any, name: str) -> Any:
    """A client field in either spelling (proto-JSON: ``realtime_input`` or ``realtimeInput``)."""
    if not isinstance(body, dict):
        return None
    if name in body:
        return body[name]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
    return body.get(snake)


class GeminiMockSession:
    """One Gemini Live connection as the server would play it; its session may outlive it (resumption)."""

    def __init__(
        self,
        profiles: Mapping[str, ModelProfile],
        registry: ResumptionRegistry,
        time_scale: float,
        seed: int,
        now: float,
        key_ok: bool = True,
    ) -> None:
        self.profiles = profiles
        self.registry = registry
        self.time_scale = time_scale
        self.seed = seed
        self.key_ok = key_ok
        self.state: GeminiSessionState | None = None
        self.end_reason = "open"
        self._schedule = OutputSchedule[EndResponse | _Do](self._on_marker, self._on_audio)
        self._manual = False
        self._transcribe = False
        self._resumption = False
        self._in_activity = False
        self._input_samples = 0
        """User audio heard since the last answer began (inside activities, in manual mode)."""
        self._voice = VoiceActivity(rate=INPUT_RATE)
        self._responding: str | None = None
        self._doomed = False
        self._silent = False

    # --- plumbing ---------------------------------------------------------------------------------------

    def _delay(self, seconds: float) -> float:
        return seconds / self.time_scale

    def _send(self, at: float, text: str, samples: int = 0, response_id: str | None = None) -> None:
        turn = self.state.turn if self.state is not None else 0
        self._schedule.push(at, Send(text, turn, samples, response_id))

    def _close(self, at: float, code: int, reason: str) -> None:
        self._schedule.push(at, CloseWithFrame(code, reason))

    def next_due(self) -> float | None:
        return self._schedule.next_due()

    def outputs_due(self, now: float) -> list[Output]:
        outputs = self._schedule.due(now)
        if (end := ending(outputs, _CAP_CLOSE)) is not None:
            self.end_reason = end
        return outputs

    def _on_marker(self, marker: EndResponse | _Do, now: float) -> None:
        if isinstance(marker, _Do):
            marker.action(now)
        elif self._responding == marker.response_id:
            self._responding = None  # its turnComplete is out: the user's next turn gets an answer

    def _on_audio(self, send: Send, now: float) -> None:
        if self.state is not None:
            self.state.audio_sent(send.turn, send.audio_samples)

    def truth(self) -> dict[str, Any]:
        """What really happened, for the truth log: cumulative over the session's connections so far."""
        if self.state is None:
            return {"session_id": None, "protocol": "gemini", "end": self.end_reason}
        return self.state.truth(self.end_reason)

    # --- client frames ----------------------------------------------------------------------------------

    def receive(self, text: str, now: float) -> None:
        if self._silent:
            return  # after a goAway that no close follows: the server reads and never answers
        if self._doomed:
            self._schedule.push(now, Abort())
            return
        try:
            message = json.loads(text)
        except ValueError:
            self._close(now, INVALID_ARGUMENT, "Invalid JSON payload received.")
            return
        if not isinstance(message, dict) or len(message) != 1:
            self._close(now, INVALID_ARGUMENT, "Request contains an invalid argument.")
            return
        ((key, body),) = message.items()
        kind = camel(key)
        if self.state is None:
            if kind == "setup":
                self._setup(body, now)
            else:
                self._close(now, INVALID_ARGUMENT, "Request contains an invalid argument: setup must come first.")
            return
        match kind:
            case "realtimeInput":
                self._realtime_input(body, now)
            case "clientContent" | "toolResponse":
                pass  # text turns and tool results are not modelled: the tester sends neither
            case _:
                self._close(now, INVALID_ARGUMENT, f'Invalid JSON payload received. Unknown name "{key}".')

    def _setup(self, body: Any, now: float) -> None:
        if not self.key_ok:
            self._close(now, INVALID_ARGUMENT, "API key not valid. Please pass a valid API key.")
            return
        model = str(_get(body, "model") or "").removeprefix("models/")
        resumption = _get(body, "sessionResumption")
        handle = _get(resumption, "handle")
        if handle:
            state = self.registry.get(str(handle))
            if state is None or state.profile.name != model:
                self._close(now, INVALID_ARGUMENT, "Request contains an invalid argument.")  # as a resume in the wild
                return
        elif model in self.profiles:
            profile = self.profiles[model]
            state = GeminiSessionState(profile, random.Random(self.seed))
        else:
            reason = f"models/{model} is not found for API version v1beta, or is not supported for bidiGenerateContent."
            self._close(now, 1008, reason[:123])  # a close reason holds at most 123 bytes
            return
        self.state = state
        state.connections += 1
        detection = _get(_get(body, "realtimeInputConfig"), "automaticActivityDetection")
        self._manual = _get(detection, "disabled") is True
        self._transcribe = _get(body, "outputAudioTranscription") is not None
        self._resumption = resumption is not None
        self._send(now, shapes.setup_complete(state.session_id))
        if self._resumption:
            self._send(now, shapes.resumption_update(self.registry.issue(state)))
        self._schedule_cap(now, state.profile)

    def _schedule_cap(self, now: float, profile: ModelProfile) -> None:
        if profile.session_cap_s is None:
            return
        lead = min(profile.go_away_s, profile.session_cap_s)
        warn_at = now + self._delay(profile.session_cap_s - lead)
        time_left = self._delay(lead)  # in the client's seconds: the mock's time scale is ours to hide

        def announce(at: float) -> None:
            assert self.state is not None
            then = profile.after_go_away
            self.state.go_aways.append({"connection": self.state.connections, "turn": self.state.turn, "then": then})
            self._send(at, shapes.go_away(time_left))
            if then == "silence":
                self._schedule.push(at, _Do(self._go_silent))
            else:
                self._close(at + (time_left / 2 if then == "early_close" else time_left), *CAP_CLOSE)

        self._schedule.push(warn_at, _Do(announce))

    def _go_silent(self, now: float) -> None:
        self._silent = True
        self._schedule.clear()  # the answer in flight stops too

    def _realtime_input(self, body: Any, now: float) -> None:
        if not isinstance(body, dict):
            self._close(now, INVALID_ARGUMENT, "Request contains an invalid argument.")
            return
        for key, value in body.items():
            match camel(key):
                case "audio":
                    self._audio(value, now)
                case "activityStart" | "activityEnd" if not self._manual:
                    self._close(now, INVALID_ARGUMENT, "Explicit activity control is not supported when automatic "
                                "activity detection is enabled.")  # fmt: skip
                case "activityStart":
                    self._in_activity, self._input_samples = True, 0
                case "activityEnd":
                    self._in_activity = False
                    if self._responding is None:
                        self._respond(now, heard=self._input_samples > 0)

    def _audio(self, blob: Any, now: float) -> None:
        data = str(_get(blob, "data") or "")
        try:
            # Proto-JSON bytes: standard or URL-safe base64 (the SDK sends the latter), padding optional.
            pcm = base64.b64decode(data.translate(_URL_SAFE) + "=" * (-len(data) % 4), validate=True)
        except binascii.Error:
            self._close(now, INVALID_ARGUMENT, "Invalid value at 'realtime_input.audio.data' (TYPE_BYTES).")
            return
        if self._manual:
            self._input_samples += len(pcm) // 2 if self._in_activity else 0
            return
        self._input_samples += len(pcm) // 2
        for edge in self._voice.feed(pcm):
            if not edge.started and self._responding is None:
                self._respond(now, heard=True)

    # --- answers ----------------------------------------------------------------------------------------

    def _respond(self, now: float, heard: bool) -> None:
        state = self.state
        assert state is not None
        state.turn += 1
        state.prompt_tokens += math.ceil(self._input_samples / INPUT_RATE * shapes.AUDIO_TOKENS_PER_S)
        self._input_samples = 0
        fault = state.profile.fault_for(state.turn, state.assistant_audio_s, state.rng) if heard else None
        if fault is not None:
            state.faults.append((state.turn, fault.value))
        response_id = self._responding = f"turn_{state.turn}"
        t = now + self._delay(state.profile.ttfa_s)
        match fault:
            case _ if not heard:
                self._end(t, response_id, 0, reason="NEED_MORE_INPUT")
            case Fault.ERROR_CLOSE:
                self._close(now, state.profile.close_code, INTERNAL_ERROR[1])
            case Fault.ZERO_AUDIO_ABORT:
                self._doomed = True  # the seed's drop: TCP abort on the next client frame
                self._end(t, response_id, 0)
            case Fault.ZERO_AUDIO:
                self._end(t, response_id, 0, reason="RESPONSE_REJECTED")
            case Fault.FAILED:
                self._end(t, response_id, 0, reason="PROHIBITED_INPUT_CONTENT")
            case _:
                if fault is Fault.TRUNCATION:
                    # A sliding context window drops the oldest half: the prompt count the client sees falls.
                    state.prompt_tokens = max(0, min(state.prompt_tokens // 2, state.reported_prompt_tokens - 1))
                self._answer(t, response_id, fault)

    def _answer(self, t: float, response_id: str, fault: Fault | None) -> None:
        state = self.state
        assert state is not None
        sent = state.profile.draw_answer_samples(state.rng, OUTPUT_RATE, fault)
        state.assistant_audio_s += sent / OUTPUT_RATE
        offset = 2 * state.rng.randrange(len(voice_buffer()) // 4)
        self._schedule.play(Stream(response_id, self._stream(t, response_id, sent, offset, fault)))

    def _stream(self, t: float, response_id: str, sent: int, offset: int, fault: Fault | None) -> Iterator[float]:
        """The answer's audio, one step per chunk (yield = wait until then), then its end."""
        profile = self.state.profile if self.state is not None else None
        assert profile is not None
        chunk = OUTPUT_RATE * profile.delta_ms // 1000
        step = self._delay(profile.delta_ms / 1000 / profile.stream_speed)
        quiet = fault is Fault.NEAR_SILENT
        for index, start in enumerate(range(0, sent, chunk)):
            at = t + index * step
            yield at
            length = min(chunk, sent - start)
            if self._transcribe and (word := transcript_word(index)) is not None:
                self._send(at, shapes.transcription(word), response_id=response_id)
            audio = shapes.audio(delta_b64(offset + start * 2, length * 2, quiet))
            self._send(at, audio, samples=length, response_id=response_id)
        end = t + math.ceil(sent / chunk) * step
        match fault:
            case Fault.CLOSE_1011_MID:
                self._close(end, *INTERNAL_ERROR)
            case Fault.ABORT_MID:
                self._schedule.push(end, Abort())
            case Fault.STALL:
                pass  # nothing more, ever: the turn never ends and the socket stays open
            case Fault.CANCELLED:
                self._send(end, shapes.interrupted(), response_id=response_id)
                self._end(end, response_id, sent)
            case Fault.INCOMPLETE:
                self._end(end, response_id, sent)  # turnComplete with no generationComplete: cut mid-sentence
            case _:
                self._send(end, shapes.generation_complete(), response_id=response_id)
                self._end(end, response_id, sent)

    def _end(self, at: float, response_id: str, samples: int, reason: str | None = None) -> None:
        state = self.state
        assert state is not None
        output_tokens = math.ceil(samples / OUTPUT_RATE * shapes.AUDIO_TOKENS_PER_S)
        self._send(at, shapes.turn_complete(state.prompt_tokens, output_tokens, reason), response_id=response_id)
        state.reported_prompt_tokens = state.prompt_tokens
        state.prompt_tokens += output_tokens  # the answer is context for the next turn
        self._schedule.push(at, EndResponse(response_id))
        if self._resumption:
            self._send(at, shapes.resumption_update(self.registry.issue(state)))
