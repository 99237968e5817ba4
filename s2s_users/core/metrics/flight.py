"""A session's flight recorder: a bounded ring of its last wire events, kept for the evidence of a failure.

``session.py`` (the one place that touches the socket) tells it what went out and what came in; it keeps the
last ``capacity`` entries: when, which way, the message's type, its size, the response it belongs to, and a short
note (a ``response.done``'s status and how much audio its response carried; a close frame's code and reason).
Never a payload (no audio, no text) and never a secret (no headers, no URL): what went out is named by the
engine's intent, what came in by the neutral event the adapter already parsed it into, so nothing is parsed twice.

The ring is a set of columns written in place (the hot path: an audio chunk every 20 ms per session, and nothing
for the garbage collector to track); ``events()`` gives its entries as frozen ``WireEvent`` records,
``to_jsonl()`` as the lines of the session's ``flight.jsonl``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from s2s_users.core import events as ev
from s2s_users.core.intents import AppendAudio, Commit, Configure, CreateResponse, Intent

#: How many wire events a session keeps: a few seconds of traffic at 20 ms chunks, more between prompts.
DEFAULT_CAPACITY = 200
#: The file a failed session's ring is written to, in its evidence folder.
FLIGHT_FILE = "flight.jsonl"
_NOTE_LIMIT = 160


class Direction(enum.StrEnum):
    SENT = "sent"
    RECEIVED = "received"
    CONNECTION = "connection"
    """What happened to the connection itself: the handshake, a close frame or none, an exception."""


@dataclass(frozen=True, slots=True)
class WireEvent:
    """One entry of the ring. ``at`` is epoch seconds; ``size`` the message's length in characters (bytes for a
    binary frame: the same for the ASCII JSON the providers send)."""

    at: float
    direction: Direction
    kind: str
    size: int = 0
    response_id: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["direction"] = str(self.direction)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WireEvent:
        return cls(
            at=float(data["at"]),
            direction=Direction(str(data["direction"])),
            kind=str(data["kind"]),
            size=int(data.get("size", 0)),
            response_id=data.get("response_id"),
            note=data.get("note"),
        )


_SENT_KINDS: dict[type[Intent], str] = {
    AppendAudio: "audio.append",
    Commit: "commit",
    CreateResponse: "response.create",
    Configure: "session.update",
}

_RECEIVED_KINDS: dict[type[Any], str] = {
    ev.SessionCreated: "session.created",
    ev.SessionUpdated: "session.updated",
    ev.SpeechStarted: "speech_started",
    ev.SpeechStopped: "speech_stopped",
    ev.InputCommitted: "input.committed",
    ev.ResponseCreated: "response.created",
    ev.AudioDelta: "audio.delta",
    ev.TranscriptDelta: "transcript.delta",
    ev.TextDelta: "text.delta",
    ev.ResponseDone: "response.done",
    ev.ServerError: "error",
    ev.GoingAway: "go_away",
    ev.MalformedMessage: "malformed",
    ev.ContextTruncated: "context.truncated",
}


def _short(text: str) -> str:
    return text if len(text) <= _NOTE_LIMIT else text[: _NOTE_LIMIT - 1] + "…"


class FlightRecorder:
    """The last ``capacity`` wire events of one session. ``wall_offset`` turns the monotonic clock into epoch."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, wall_offset: float = 0.0) -> None:
        # The ring is six columns written in place, not a tuple per entry, so that an entry allocates nothing the
        # garbage collector tracks. A ring of tuples kept every session's last entries young: on Python 3.11 each
        # evicted entry pays for the new one in the collector's count, so the youngest generation grew to 40,000
        # tuples at 200 sessions, and each collection of it held the hub (every session's clock) for 30 ms.
        # Times and sizes are plain numbers in arrays: in lists each entry would evict an object of its own, last
        # touched one ring ago (at 700 sessions, freeing those cold floats and ints was 3 % of a worker's CPU).
        self._capacity = capacity
        self._times = array("d", bytes(8 * capacity))
        self._directions = [Direction.SENT] * capacity
        self._kinds = [""] * capacity
        self._sizes = array("q", bytes(8 * capacity))
        self._response_ids: list[str | None] = [None] * capacity
        self._notes: list[str | None] = [None] * capacity
        self._next = 0
        self._filled = 0
        self._wall_offset = wall_offset
        self._audio_bytes: dict[str, int] = {}
        """Audio received per live response, for its ``response.done`` note (dropped at the done)."""

    def sent(self, intent: Intent | None, size: int, now: float) -> None:
        """A message went out for ``intent`` (None: one the adapter sends of itself, as Gemini's ``setup``)."""
        kind = "setup" if intent is None else _SENT_KINDS.get(type(intent), type(intent).__name__)
        self._append(now, Direction.SENT, kind, size, None, None)

    def received(self, events: Iterable[ev.Event], size: int, now: float) -> None:
        """A message came in, which the adapter read as ``events`` (usually one; Gemini's frames may hold more)."""
        if type(events) is list and len(events) == 1 and type(events[0]) is ev.AudioDelta:
            # Most of what comes in (the loop below gives the same entry, slower): no note, its audio counted.
            delta = events[0]
            audio = self._audio_bytes
            audio[delta.response_id] = audio.get(delta.response_id, 0) + len(delta.pcm)
            self._append(now, Direction.RECEIVED, "audio.delta", size, delta.response_id or None, None)
            return
        kinds: list[str] = []
        response_id: str | None = None
        note: str | None = None
        for event in events:
            if isinstance(event, ev.AudioDelta):
                self._audio_bytes[event.response_id] = self._audio_bytes.get(event.response_id, 0) + len(event.pcm)
            kinds.append(_RECEIVED_KINDS.get(type(event)) or getattr(event, "type", "") or type(event).__name__)
            response_id = response_id or getattr(event, "response_id", None) or None
            note = self._note(event) or note
        self._append(now, Direction.RECEIVED, "+".join(kinds) or "nothing", size, response_id, note)

    def _note(self, event: ev.Event) -> str | None:
        if isinstance(event, ev.ResponseDone):
            audio = self._audio_bytes.pop(event.response_id, 0)
            why = event.reason or event.error_code
            return f"status {event.status or '?'}{f' ({why})' if why else ''}, {audio} audio bytes in this response"
        if isinstance(event, ev.ServerError):
            return _short(f"{event.code or event.type or 'error'}: {event.message}")
        if isinstance(event, ev.MalformedMessage):
            return _short(event.detail)
        if isinstance(event, ev.GoingAway):
            return f"time left {event.time_left_s} s, can resume: {event.can_resume}"
        return None

    def connection(self, kind: str, now: float, note: str | None = None) -> None:
        """What happened to the connection: ``handshake.ok``, ``handshake.rejected``, ``closed``, ``error``..."""
        self._append(now, Direction.CONNECTION, kind, 0, None, None if note is None else _short(note))

    def _append(
        self, at: float, direction: Direction, kind: str, size: int, response_id: str | None, note: str | None
    ) -> None:
        i = self._next
        if i >= self._capacity:  # a ring of no entries keeps nothing
            return
        self._times[i], self._directions[i], self._kinds[i] = at, direction, kind
        self._sizes[i], self._response_ids[i], self._notes[i] = size, response_id, note
        self._next = i + 1 if i + 1 < self._capacity else 0
        if self._filled < self._capacity:
            self._filled += 1

    def __len__(self) -> int:
        return self._filled

    def events(self) -> tuple[WireEvent, ...]:
        """The entries, oldest first."""
        offset, start = self._wall_offset, self._next if self._filled == self._capacity else 0
        order = [(start + k) % self._capacity for k in range(self._filled)]
        return tuple(
            WireEvent(round(self._times[i] + offset, 6), self._directions[i], self._kinds[i], self._sizes[i],
                      self._response_ids[i], self._notes[i])
            for i in order
        )  # fmt: skip

    def to_jsonl(self) -> str:
        return "".join(json.dumps(event.to_dict(), allow_nan=False) + "\n" for event in self.events())
