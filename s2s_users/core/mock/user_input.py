"""The user's side of the OpenAI mock session: what the client puts into the conversation, and the turns the
server's VAD makes of it.

``UserInput`` keeps the input audio buffer and its commits, runs the VAD (speech started and stopped; after an
answer drawn for it, leftover audio taken for speech) and holds the user's conversation items, with the input
tokens they add to every later response. The answering stays with the session (``behavior.py``): through
``Session`` it is told when the user starts speaking (a barge-in, if an answer is running) and when the VAD ends
a turn, and asked whether a response is running.
"""

from __future__ import annotations

import base64
import math
from typing import Any, Protocol

from s2s_users.core.mock.shapes import text_item, user_audio_item
from s2s_users.core.mock.vad import PREFIX_PADDING_MS, VoiceActivity
from s2s_users.core.protocols.openai_wire import SAMPLE_RATE

RATE = SAMPLE_RATE
MIN_COMMIT_MS = 100
LEFTOVER_SPEECH_MS = 300  # how much audio after an answer a leftover-prone VAD takes for speech


def decoded_length(audio: str) -> int:
    """How many bytes base64 text of a length that is a multiple of 4 decodes to."""
    return len(audio) // 4 * 3 - (audio[-2:] == "==") - (audio[-1:] == "=")


class Session(Protocol):
    """What the user's input needs of its session: ids and messages, and the answering."""

    def new_id(self, prefix: str) -> str: ...

    def emit(self, at: float, kind: str, **fields: Any) -> None: ...

    def error(self, now: float, code: str, message: str, client_event_id: Any) -> None: ...

    def responding(self) -> str | None:
        """The response in progress, if any."""
        ...

    def user_speaks(self, now: float) -> None:
        """The VAD heard the user start speaking."""
        ...

    def user_turn_ended(self, now: float, leftover: bool) -> None:
        """The VAD ended a turn of the user's, its audio committed (``leftover``: audio it took for speech)."""
        ...


class UserInput:
    """One session's input audio buffer, server VAD and user conversation items."""

    def __init__(self, session: Session, vad_silence_ms: int) -> None:
        self._session = session
        self.buffered_samples = 0
        self.items: list[str] = []
        """The user's conversation items (audio and text messages), oldest first."""
        self.input_tokens = 0
        """What the next response is billed as input: the whole conversation so far, answers included."""
        self.input_text_tokens = 0
        self.leftover_pending = False
        """After an answer drawn for it: the next audio (carrier silence or noise) is taken for speech."""
        self._leftover_samples = 0
        self._voice = VoiceActivity(vad_silence_ms)
        self._speech_item = ""

    def append(self, audio: str, now: float, vad: bool) -> None:
        """Audio into the buffer; with ``vad`` (turn detection on) the server listens to it."""
        if not vad and len(audio) % 4 == 0:  # manual turns only count the samples: no decoding (5 % of the mock)
            self.buffered_samples += decoded_length(audio) // 2
            return
        pcm = base64.b64decode(audio)  # (its padding error, as before, for a length that is not base64's)
        self.buffered_samples += len(pcm) // 2
        if vad:
            for edge in self._voice.feed(pcm):
                if edge.started:
                    self._speech_started(max(edge.position_ms - PREFIX_PADDING_MS, 0), now)
                else:
                    self._speech_stopped(edge.position_ms, now)
            self._leftover(len(pcm) // 2, now)

    def clear(self, now: float) -> None:
        self.buffered_samples = 0
        self._session.emit(now, "input_audio_buffer.cleared")

    def commit(self, now: float, event_id: Any) -> None:
        buffered_ms = self.buffered_samples * 1000 / RATE
        if buffered_ms < MIN_COMMIT_MS:
            self._session.error(
                now,
                "input_audio_buffer_commit_empty",
                f"Error committing input audio buffer: buffer too small. Expected at least {MIN_COMMIT_MS}ms of "
                f"audio, but buffer only has {buffered_ms:.2f}ms of audio.",
                event_id,
            )
            return
        self._committed(now)

    def add_item(self, item: Any, now: float, event_id: Any) -> int:
        """A text message the client adds to the conversation (a summary after a rotation): its tokens are input
        of every later response. Only what the tester sends is modelled: a message of input_text parts. Returns
        the characters of text added (none for an item refused with an error)."""
        content = item.get("content") if isinstance(item, dict) else None
        parts = content if isinstance(content, list) else []
        texts = [part.get("text") for part in parts if isinstance(part, dict) and part.get("type") == "input_text"]
        if not parts or len(texts) != len(parts) or item.get("role") not in ("system", "user"):
            self._session.error(
                now, "invalid_value", "Invalid item: a message of input_text parts was expected.", event_id
            )
            return 0
        chars = sum(len(text) if isinstance(text, str) else 0 for text in texts)
        tokens = math.ceil(chars / 4)  # about four characters per text token
        self.input_tokens += tokens
        self.input_text_tokens += tokens
        item_id = self._session.new_id("item")
        self.items.append(item_id)
        added = text_item(item_id, item["role"], parts)
        self._session.emit(now, "conversation.item.added", item=added, previous_item_id=None)
        self._session.emit(now, "conversation.item.done", item=added, previous_item_id=None)
        return chars

    def truncate(self, at: float) -> None:
        """Drop the oldest conversation item and truncate the next, as a server keeping its context small."""
        if self.items:
            self._session.emit(at, "conversation.item.deleted", item_id=self.items.pop(0))
        if self.items:
            self._session.emit(
                at, "conversation.item.truncated", item_id=self.items[0], content_index=0, audio_end_ms=0
            )

    def _committed(self, now: float, item_id: str | None = None) -> None:
        item_id = item_id or self._session.new_id("item")
        self.items.append(item_id)
        self.input_tokens += math.ceil(self.buffered_samples * 1000 / RATE / 100)
        self.buffered_samples = 0
        self._session.emit(now, "input_audio_buffer.committed", item_id=item_id, previous_item_id=None)
        item = user_audio_item(item_id)
        self._session.emit(now, "conversation.item.added", item=item, previous_item_id=None)
        self._session.emit(now, "conversation.item.done", item=item, previous_item_id=None)

    def _speech_started(self, audio_start_ms: int, now: float) -> None:
        # One item id for the whole user turn: speech_started, speech_stopped, committed, the item.
        self._speech_item = self._session.new_id("item")
        self._session.emit(now, "input_audio_buffer.speech_started", audio_start_ms=audio_start_ms,
                           item_id=self._speech_item)  # fmt: skip
        self._session.user_speaks(now)

    def _speech_stopped(self, audio_end_ms: int, now: float, leftover: bool = False) -> None:
        self._session.emit(now, "input_audio_buffer.speech_stopped", audio_end_ms=audio_end_ms,
                           item_id=self._speech_item)  # fmt: skip
        self._committed(now, self._speech_item)
        self._session.user_turn_ended(now, leftover)

    def _leftover(self, samples: int, now: float) -> None:
        """After an answer drawn for it, the next audio (carrier silence or noise) is taken for speech."""
        if not self.leftover_pending or self._session.responding() is not None:
            return
        if self._leftover_samples == 0:
            self._speech_started(0, now)
        self._leftover_samples += samples
        if self._leftover_samples * 1000 >= LEFTOVER_SPEECH_MS * RATE:
            self.leftover_pending = False
            self._leftover_samples = 0
            self._speech_stopped(0, now, leftover=True)
