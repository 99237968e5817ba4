"""The mock realtime server's behaviour, sans-I/O: client messages in, timed outputs out.

``MockSession`` never sleeps and never touches a socket: ``receive(text, now)`` feeds a client message,
``outputs_due(now)`` returns what to do now (send a message, close with a frame, or abort TCP), and
``next_due()`` says when to ask again. ``time_scale`` divides every server-side delay; the amount of audio
never changes with it.

Faults (``profiles.Fault``) are injected per turn by the profile: at a scheduled turn, past the audio ceiling, or
by probability. What really happened is kept for the truth log (``truth()``): the faults with their turns, the
exact assistant audio sent per turn, when each response was asked for and its first audio went out (the server's
side of TTFA), and how the session ended.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import secrets
from collections.abc import Iterator
from typing import Any

from s2s_users.core.mock import shapes
from s2s_users.core.mock.outputs import Abort, CancelAt, CloseWithFrame, EndResponse, Output, Send, Stream
from s2s_users.core.mock.profiles import SESSION_CAP_REASON, Fault, ModelProfile
from s2s_users.core.mock.schedule import OutputSchedule, ending
from s2s_users.core.mock.truth import Truth
from s2s_users.core.mock.user_input import UserInput
from s2s_users.core.mock.voice import answer_delta_b64, transcript_word, voice_buffer
from s2s_users.core.protocols.openai_wire import BETA_NAMES, SAMPLE_RATE

RATE = SAMPLE_RATE
#: How response.done ends the responses that a fault leaves unfinished.
UNFINISHED_STATUS: dict[Fault, tuple[str, str | None]] = {
    Fault.INCOMPLETE: ("incomplete", "max_output_tokens"),
    Fault.CANCELLED: ("cancelled", "turn_detected"),
}
_APPEND_PREFIX = '{"type":"input_audio_buffer.append","audio":"'
_CAP_CLOSE = CloseWithFrame(1001, SESSION_CAP_REASON)
_AUDIO_DELTA = "response.output_audio.delta"


class MockSession:
    """One realtime session as the OpenAI Realtime GA server would play it."""

    def __init__(
        self, profile: ModelProfile, time_scale: float, seed: int, now: float, wall_offset: float = 0.0
    ) -> None:
        """``wall_offset`` turns the clock of ``now`` into epoch seconds for the truth log's times."""
        self.profile = profile
        self.time_scale = time_scale
        self.rng = random.Random(seed)
        self.rng.getrandbits(64)  # the draw that once made the session id: seeded sessions play as they always did
        # Unique across runs (a seed repeats in every run of a worker index): records of two runs never collide.
        self.session_id = f"sess_{secrets.token_hex(8)}"
        self.assistant_audio_s = 0.0
        self.turn_detection: dict[str, Any] | None = shapes.server_vad()
        self.voice = profile.voice
        self.instructions = "You are a helpful assistant."
        self.doomed = False
        """After a ceiling hit: the next client message gets a TCP abort."""
        self.turn = 0
        """Responses started so far: the turn number (1-based) of the current one."""
        self.record = Truth(self.session_id, profile.name, wall_offset=wall_offset)
        self._ids = itertools.count(1)
        self._schedule = OutputSchedule[EndResponse | CancelAt](self._on_marker, self._on_audio)
        self._response_id: str | None = None
        self.input = UserInput(self, profile.vad_silence_ms)
        self._next_unsolicited: str | None = None
        self._respond_when_done = False
        self._item_id = ""
        """The assistant item of the response in progress."""
        self.emit(now, "session.created", session=self._session_object())
        if profile.session_cap_s is not None:
            self._schedule.push(now + self._delay(profile.session_cap_s), _CAP_CLOSE)

    # --- plumbing ---------------------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def emit(self, at: float, kind: str, **fields: Any) -> None:
        """Queue a server event for ``at``, tagged with its response (a cancel drops what is left of that)."""
        if self.profile.flavour == "beta":
            kind = BETA_NAMES.get(kind, kind)
        message = {"type": kind, "event_id": self.new_id("event"), **fields}
        response = fields.get("response")
        response_id = fields.get("response_id") or (response.get("id") if isinstance(response, dict) else None)
        text = json.dumps(message, separators=(",", ":"))
        self._schedule.push(at, Send(text, self.turn, 0, response_id))

    def _delay(self, seconds: float) -> float:
        return seconds / self.time_scale

    def next_due(self) -> float | None:
        return self._schedule.next_due()

    def outputs_due(self, now: float) -> list[Output]:
        outputs = self._schedule.due(now)
        if (end := ending(outputs, _CAP_CLOSE)) is not None:
            self.end_reason = end
        return outputs

    def _on_marker(self, marker: EndResponse | CancelAt, now: float) -> None:
        if marker.response_id != self._response_id:
            return  # that response is over already (cancelled, or ended by the client)
        if isinstance(marker, CancelAt):  # the user spoke over it: it ends cancelled, with what audio went out
            sent_ms = self.record.responses[marker.response_id].audio_samples * 1000 / RATE
            self._stop(now, marker.response_id, sent_ms, reason="turn_detected")
        else:  # its response.done is out: the VAD may take what comes next for speech, a waiting turn is answered
            self._response_id = None
            told = self.record.responses.get(marker.response_id)
            if told is not None and told.solicited:
                leftover_now = told.answer in self.profile.leftover_at
                self.input.leftover_pending = leftover_now or self.rng.random() < self.profile.leftover
            if self._respond_when_done:
                self._respond_when_done = False
                self._respond(now)

    def _on_audio(self, send: Send, now: float) -> None:
        self.record.audio_sent(send.turn, send.response_id, send.audio_samples, now)

    @property
    def end_reason(self) -> str:
        return self.record.end_reason

    @end_reason.setter
    def end_reason(self, reason: str) -> None:
        self.record.end_reason = reason

    def truth(self) -> dict[str, Any]:
        """What really happened in this session, for the truth log."""
        return self.record.line(self.turn)

    def error(self, now: float, code: str, message: str, client_event_id: Any, param: str | None = None) -> None:
        error = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
        self.emit(now, "error", error={**error, "event_id": client_event_id})

    def _session_object(self) -> dict[str, Any]:
        return shapes.session_object(
            self.session_id, self.profile.name, self.instructions, self.turn_detection, self.voice
        )

    # --- client messages --------------------------------------------------------------------------------

    def receive(self, text: str, now: float) -> None:
        if self.doomed:
            self._schedule.push(now, Abort())
            return
        if text.startswith(_APPEND_PREFIX) and text.endswith('"}'):
            # The prompt's appends are most of what a session sends (50 a second at 20 ms chunks): in their plain
            # form (no other field, no escape: base64 needs none) the audio is read without a JSON parse.
            audio = text[len(_APPEND_PREFIX) : -2]
            if '"' not in audio and "\\" not in audio:
                self.input.append(audio, now, vad=self.turn_detection is not None)
                return
        try:
            message = json.loads(text)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            self.error(now, "invalid_json", "The server could not parse the message.", None)
            return
        event_id = message.get("event_id")
        match kind:
            case "input_audio_buffer.append":
                self.input.append(message.get("audio", ""), now, vad=self.turn_detection is not None)
            case "input_audio_buffer.commit":
                self.input.commit(now, event_id)
            case "input_audio_buffer.clear":
                self.input.clear(now)
            case "response.create":
                if self._response_id is not None:
                    self.error(
                        now,
                        "conversation_already_has_active_response",
                        "Conversation already has an active response in progress.",
                        event_id,
                    )
                else:
                    self._respond(now)
            case "response.cancel":
                if self._response_id is None:
                    self.error(now, "response_cancel_not_active", "There is no active response to cancel.", event_id)
                else:
                    self._stop(now, self._response_id, 0, reason="client_cancelled")
            case "session.update":
                self._update(message.get("session") or {}, now, event_id)
            case "conversation.item.create":
                self.record.injected_chars += self.input.add_item(message.get("item"), now, event_id)
            case _:
                self.error(now, "invalid_value", f"Unsupported event type '{kind}'.", event_id)

    def _update(self, session: dict[str, Any], now: float, event_id: Any) -> None:
        if "type" not in session:
            self.error(
                now,
                "missing_required_parameter",
                "Missing required parameter: 'session.type'.",
                event_id,
                "session.type",
            )
            return
        audio = session.get("audio") or {}
        if "turn_detection" in (audio.get("input") or {}):
            self.turn_detection = audio["input"]["turn_detection"]
        self.voice = (audio.get("output") or {}).get("voice", self.voice)
        self.instructions = session.get("instructions", self.instructions)
        self.emit(now, "session.updated", session=self._session_object())

    # --- what the user's input tells the session (user_input.Session) ---------------------------------

    def responding(self) -> str | None:
        return self._response_id

    def user_speaks(self, now: float) -> None:
        running = self._response_id
        if running is not None and (self.turn_detection or {}).get("interrupt_response", True):
            # The user speaks over the answer: a server that listens stops it (after its reaction time).
            self.record.responses[running].interrupted_at = now
            if self.profile.barge_in == "cancel":
                self._schedule.push(now + self._delay(self.profile.barge_in_stop_ms / 1000), CancelAt(running))

    def user_turn_ended(self, now: float, leftover: bool) -> None:
        if leftover:
            self._next_unsolicited = "leftover"
        if self.turn_detection and self.turn_detection.get("create_response", True):
            if self._response_id is None:
                self._respond(now)
            else:
                self._respond_when_done = True  # one response at a time: this one comes after the running one

    # --- responses --------------------------------------------------------------------------------------

    def _respond(self, now: float) -> None:
        self.turn += 1
        self.record.asked(self.turn, now)
        fault = self.profile.fault_for(self.turn, self.assistant_audio_s, self.rng)
        if fault is not None:
            self.record.faults.append((self.turn, fault.value))
        if fault is Fault.ERROR_CLOSE:
            # The server fails the response before it starts: an error event, then a close frame.
            self.error(now, "server_error", shapes.SERVER_ERROR_MESSAGE, None)
            self._schedule.push(now, CloseWithFrame(self.profile.close_code, "server error"))
            return
        response_id = self._response_id = self.new_id("resp")
        item_id = self._item_id = self.new_id("item")
        unsolicited, self._next_unsolicited = self._next_unsolicited, None
        self.record.started(response_id, self.turn, unsolicited, self.profile.leading_silence_ms / 1000)
        self.emit(now, "response.created", response=shapes.started_response(response_id))
        t = now + self._delay(self.profile.ttfa_s)
        match fault:
            case Fault.ZERO_AUDIO_ABORT | Fault.ZERO_AUDIO:
                # The seed's silent failure: a completed response with no audio (then, for the seed, a drop).
                self.doomed = fault is Fault.ZERO_AUDIO_ABORT
                self._done(t, response_id, item_id, "completed", audio_ms=0)
            case Fault.FAILED:
                self._done(t, response_id, item_id, "failed", audio_ms=0, error=shapes.server_error())
            case _:
                if fault is Fault.TRUNCATION:
                    self.input.truncate(t)
                self._answer(t, response_id, item_id, fault)

    def _answer(self, t: float, response_id: str, item_id: str, fault: Fault | None) -> None:
        """Stream an answer; faults that cut it short do so halfway, then end the response their way."""
        sent = self.profile.draw_answer_samples(self.rng, RATE, fault)
        self.assistant_audio_s += sent / RATE
        item = shapes.started_assistant_item(item_id)
        self.emit(t, "response.output_item.added", response_id=response_id, output_index=0, item=item)
        self.emit(t, "conversation.item.added", item=item, previous_item_id=None)
        ids: dict[str, Any] = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        self.emit(t, "response.content_part.added", **ids, part={"type": "audio", "transcript": ""})
        offset = 2 * self.rng.randrange(len(voice_buffer()) // 4)  # in bytes, on a sample boundary
        self._schedule.play(Stream(response_id, self._stream(t, ids, sent, offset, fault)))

    def _stream(self, t: float, ids: dict[str, Any], sent: int, offset: int, fault: Fault | None) -> Iterator[float]:
        """The audio deltas of one response, one step per delta (yield = wait until then), then its end."""
        response_id, item_id = ids["response_id"], ids["item_id"]
        delta_samples = RATE * self.profile.delta_ms // 1000
        step = self._delay(self.profile.delta_ms / 1000 / self.profile.stream_speed)
        quiet = fault is Fault.NEAR_SILENT
        silent = RATE * self.profile.leading_silence_ms // 1000
        turn = self.turn  # the deltas belong to this turn whenever they go out
        for index, start in enumerate(range(0, sent, delta_samples)):
            at = t + index * step
            yield at
            length = min(delta_samples, sent - start) * 2
            if (word := transcript_word(index)) is not None:
                self.emit(at, "response.output_audio_transcript.delta", **ids, delta=word)
            delta = answer_delta_b64(offset, start, length // 2, silent, quiet)
            self._emit_audio(at, turn, ids, delta, length // 2)
        end = t + math.ceil(sent / delta_samples) * step
        match fault:
            case Fault.CLOSE_1011_MID:
                self._schedule.push(end, CloseWithFrame(1011, "internal error"))
                return
            case Fault.ABORT_MID:
                self._schedule.push(end, Abort())
                return
            case Fault.STALL:
                return  # nothing more, ever: the response stays active and the socket open
        self.emit(end, "response.output_audio.done", **ids)
        self.emit(end, "response.output_audio_transcript.done", **ids, transcript="...")
        self.emit(end, "response.content_part.done", **ids, part={"type": "audio", "transcript": "..."})
        status, reason = UNFINISHED_STATUS.get(fault, ("completed", None)) if fault else ("completed", None)
        self._done(end, response_id, item_id, status, audio_ms=sent * 1000 / RATE, reason=reason)

    def _emit_audio(self, at: float, turn: int, ids: dict[str, Any], delta: str, samples: int) -> None:
        kind = BETA_NAMES[_AUDIO_DELTA] if self.profile.flavour == "beta" else _AUDIO_DELTA
        text = shapes.audio_delta(kind, self.new_id("event"), ids["response_id"], ids["item_id"], delta)
        self._schedule.push(at, Send(text, turn, samples, ids["response_id"]))

    def _done(
        self,
        at: float,
        response_id: str,
        item_id: str,
        status: str,
        audio_ms: float,
        reason: str | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        output_tokens = math.ceil(audio_ms / 50)
        item = shapes.assistant_item(item_id, has_audio=audio_ms > 0)
        self.emit(at, "response.output_item.done", response_id=response_id, output_index=0, item=item)
        self.emit(at, "conversation.item.done", item=item, previous_item_id=None)
        tokens = shapes.usage(self.input.input_tokens, output_tokens, self.input.input_text_tokens)
        response = shapes.response_object(response_id, status, item, tokens, reason, error)
        self.emit(at, "response.done", response=response)
        # Assistant output becomes input of later turns: the conversation grows, as billed by the real service.
        self.input.input_tokens += output_tokens
        self._schedule.push(at, EndResponse(response_id))

    def _stop(self, now: float, response_id: str, audio_ms: float, reason: str) -> None:
        """Cancel a response: what is still queued of it is dropped, then it ends cancelled."""
        self._schedule.drop(response_id)
        self._done(now, response_id, self._item_id, "cancelled", audio_ms=audio_ms, reason=reason)
