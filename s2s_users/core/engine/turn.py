"""The turn being played: its prompt going out on the pacer's clock, the carrier after it, and its timings.

Its answer is a ``ResponseInProgress`` (response.py), which the turn points to once the server starts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from s2s_users.core.engine.pacing import ChunkPacer
from s2s_users.core.engine.response import ResponseInProgress, TurnTiming
from s2s_users.core.engine.script import Script, ScriptedPrompt
from s2s_users.core.engine.settings import EngineSettings


@dataclass(slots=True)
class TurnInProgress:
    """Mutable while the turn runs. Times are monotonic seconds."""

    index: int
    prompt: ScriptedPrompt
    pacer: ChunkPacer
    started_at: float
    last_event_at: float
    carrier: tuple[str, ...] = ()
    """Chunks streamed after the prompt for as long as the turn lasts (server VAD's microphone); empty: none."""
    next_chunk: int = 0
    committed_at: float | None = None
    """When the prompt was out (manual: our commit; server VAD: its last chunk)."""
    speech_end_at: float | None = None
    """When the prompt's speech ended, on our clock (its chunk's send time plus its place in the chunk)."""
    speech_stopped_at: float | None = None
    """When the server's VAD said the speech stopped (server VAD)."""
    response: ResponseInProgress | None = None
    context_truncated: bool = False
    after_rotation: bool = False
    """The first turn of a fresh provider session after a rotation or a reconnect at the cap."""
    detail: str | None = None
    _next_due: float | None = field(default=None, init=False, repr=False)
    """When ``next_chunk`` is due (None: no chunk is left): set as each chunk goes, read on every wake."""

    def __post_init__(self) -> None:
        self._next_due = self._due(self.next_chunk) if self._has_chunk(self.next_chunk) else None

    @classmethod
    def starting(
        cls, index: int, script: Script, settings: EngineSettings, now: float, after_rotation: bool
    ) -> TurnInProgress:
        """Turn ``index`` of the script, starting ``now``; with server VAD the carrier streams after its prompt."""
        return cls(
            index=index,
            prompt=script.prompt_for_turn(index),
            pacer=ChunkPacer(now, script.chunk_s, settings.pace),
            started_at=now,
            last_event_at=now,
            carrier=script.carrier_b64 if settings.turn_mode == "server_vad" else (),
            after_rotation=after_rotation,
        )

    # --- the prompt (then the carrier) going out ---------------------------------------------------------

    def take_due_chunk(self, now: float) -> str | None:
        """The next chunk if it is due by ``now`` (sent now: its lateness is the pacing lag), else None."""
        due = self._next_due
        if due is None or due > now:
            return None
        chunks = self.prompt.chunks_b64
        index = self.next_chunk
        self.next_chunk = index + 1
        self._next_due = self._due(index + 1) if self._has_chunk(index + 1) else None
        if index < len(chunks):
            self.pacer.sent(index, now)
            self._note_speech_end(index, now)
            return chunks[index]
        return self.carrier[(index - len(chunks)) % len(self.carrier)]

    def _has_chunk(self, index: int) -> bool:
        return index < len(self.prompt.chunks_b64) or bool(self.carrier)

    def _due(self, index: int) -> float:
        """A prompt chunk's deadline, or the carrier's after it: at the prompt's pace, in real time under burst
        pacing (a microphone does not speed up)."""
        prompt_chunks = len(self.prompt.chunks_b64)
        if index < prompt_chunks:
            return self.pacer.due(index)
        speed = self.pacer.pace.speed or 1.0
        return self.pacer.due(prompt_chunks) + (index - prompt_chunks) * self.pacer.chunk_s / speed

    def _note_speech_end(self, index: int, now: float) -> None:
        chunk_s = self.pacer.chunk_s
        end = self.prompt.speech_end_s
        if self.speech_end_at is None and index * chunk_s <= end <= (index + 1) * chunk_s + 1e-9:
            speed = self.pacer.pace.speed
            self.speech_end_at = now if speed is None else now + (end - index * chunk_s) / speed

    def next_chunk_due(self) -> float | None:
        return self._next_due

    @property
    def prompt_done(self) -> bool:
        """The prompt itself is out (this very chunk was its last)."""
        return self.next_chunk == self.prompt.prompt_chunks

    def speech_starts_at(self) -> float:
        """When the prompt's speech starts being sent, on our clock (for a barge-in: we speak over the answer)."""
        speed = self.pacer.pace.speed
        return self.started_at if speed is None else self.started_at + self.prompt.speech_start_s / speed

    def prompt_sent(self, now: float) -> None:
        self.committed_at = now
        self.last_event_at = now
        if self.speech_end_at is None:
            self.speech_end_at = now

    def speech_stopped(self, now: float) -> None:
        if self.speech_end_at is not None and self.speech_stopped_at is None:
            self.speech_stopped_at = now  # the server's endpointing of this turn's speech

    # --- waiting for the answer -------------------------------------------------------------------------

    def heard_from_server(self, now: float) -> ResponseInProgress | None:
        """Any event shows the server is alive (and its answer, if one runs). Returns the answer."""
        self.last_event_at = now
        if self.response is not None:
            self.response.last_event_at = now
        return self.response

    def barge_in_at(self, after_s: float | None) -> float | None:
        """When we speak over the answer: ``after_s`` into its audio (None: this turn does not barge in)."""
        if after_s is None or self.response is None or self.response.first_audio_at is None:
            return None
        return self.response.first_audio_at + after_s

    def truncated(self, audio_end_ms: int | None) -> None:
        """The server cut the conversation's context (the answer's audio kept up to ``audio_end_ms``)."""
        self.context_truncated = True
        if self.response is not None and audio_end_ms is not None:
            self.response.truncated_at_ms = audio_end_ms

    def reference_at(self, turn_mode: str) -> float | None:
        """Where TTFA starts: our commit in manual turns; the end of the prompt's speech with server VAD."""
        return self.committed_at if turn_mode == "manual" else self.speech_end_at

    def deadline(self, timeout_s: float) -> float | None:
        """When waiting gives up: for the answer's first audio (from when the prompt was out), or for the next
        event once its audio flows."""
        if self.committed_at is None:
            return None
        if self.response is None or self.response.first_audio_at is None:
            return self.committed_at + timeout_s
        return self.last_event_at + timeout_s

    def timing(self, turn_mode: str) -> TurnTiming:
        return TurnTiming(
            started_at=self.started_at,
            reference_at=self.reference_at(turn_mode),
            speech_end_at=self.speech_end_at,
            speech_stopped_at=self.speech_stopped_at,
            input_audio_s=self.prompt.input_audio_s,
            pacing_lag_s=self.pacer.max_lag_s,
            context_truncated=self.context_truncated,
            after_rotation=self.after_rotation,
        )
