"""A response the server is giving, asked for or not: its audio, what a caller hears of it, and its record.

Every response is tracked to its end, whoever started it: the one the turn asked for (*solicited*), and those
the server started on its own (*unsolicited*: a server VAD that split the prompt at a pause, or took leftover
audio for speech). Each ends in a ``TurnRecord``; all their audio counts toward the session's.

What a caller hears: time to the first audio delta is not time to sound. Providers start many responses with
silence; the first *audible* sample (over the silence floor) comes that much later, played in real time from the
first delta (or later still, when deltas arrive slower than real time).

Which response an event belongs to, and the ones that are not the turn's own, are ``answers.py``'s business.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from s2s_users.core import events as ev
from s2s_users.core import failures as fl
from s2s_users.core.audio import amplitude_dbfs
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.records import OK, TurnRecord

#: How much audio (bytes) waits to be scanned for a response's peak, at most: about 1.4 s at 24 kHz.
SCAN_BYTES = 65_536


@dataclass(slots=True)
class ResponseInProgress:
    """Mutable while the response runs; ``record()`` freezes it. Times are monotonic seconds."""

    response_id: str
    turn: int
    prompt_id: str
    solicited: bool
    started_at: float
    last_event_at: float
    floor: int
    """The amplitude (PCM16 units) a sample must reach to be heard: the silence floor."""
    output_rate: int
    reason: str | None = None
    first_audio_at: float | None = None
    audible_at: float | None = None
    leading_samples: int = 0
    audio_bytes: int = 0
    _peak: int = 0
    """The peak of the audio scanned so far (``peak`` scans the rest first)."""
    transcript_chars: int = 0
    text_chars: int = 0
    interrupted_at: float | None = None
    """When our barge-in began (the interrupting prompt's speech started being sent)."""
    audio_bytes_at_interrupt: int = 0
    last_audio_at: float | None = None
    truncated_at_ms: int | None = None
    detail: str | None = None
    _unscanned: list[bytes] = field(default_factory=list, repr=False, compare=False)
    """Audio after the first audible sample, not yet scanned for the peak (whole samples only): scanned in batches
    of ``SCAN_BYTES``, when the peak is asked for, or both."""
    _unscanned_bytes: int = field(default=0, repr=False, compare=False)

    @classmethod
    def starting(
        cls,
        response_id: str,
        turn: int,
        prompt_id: str,
        now: float,
        floor: int,
        output_rate: int,
        solicited: bool = True,
        reason: str | None = None,
    ) -> ResponseInProgress:
        return cls(response_id, turn, prompt_id, solicited, now, now, floor, output_rate, reason)

    def classify(self, done: ev.ResponseDone, silence_floor_dbfs: float, speed: float = 1.0) -> FailureClass | None:
        """How the response ended, by ``failures.classify()``; an answer we spoke over may stop early (``speed``:
        the pace's factor over real time, by which the server's allowed reaction shrinks)."""
        interrupted = self.interrupted_at is not None
        streamed_for = 0.0
        if self.interrupted_at is not None and self.last_audio_at is not None:
            streamed_for = max(self.last_audio_at - self.interrupted_at, 0.0)
        return fl.classify(
            fl.ResponseEnded(
                status=done.status,
                audio_bytes=self.audio_bytes,
                peak_dbfs=self.peak_dbfs,
                silence_floor_dbfs=silence_floor_dbfs,
                streamed_after_barge_in_s=self.audio_after_interrupt_s if interrupted else None,
                streamed_for_s=streamed_for,
                reaction_s=fl.BARGE_IN_REACTION_S / speed,
            )
        )

    def count_audio(self, pcm: bytes, now: float) -> None:
        if not pcm:
            return
        if self.first_audio_at is None:
            self.first_audio_at = now
        self.audio_bytes += len(pcm)
        self.last_audio_at = now
        if self.audible_at is not None:
            # Only the peak is left to find: the deltas are scanned together (numpy's cost is mostly per call).
            self._unscanned.append(pcm if len(pcm) % 2 == 0 else pcm[:-1])
            self._unscanned_bytes += len(pcm)
            if self._unscanned_bytes >= SCAN_BYTES:
                self._scan()
            return
        samples = np.abs(np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.int32))
        if samples.size:
            self._peak = max(self._peak, int(samples.max()))
        loud = np.flatnonzero(samples >= self.floor)
        if loud.size:
            self.leading_samples += int(loud[0])
            # Played in real time from the first delta; a late delta makes the sound later still.
            self.audible_at = max(self.first_audio_at + self.leading_samples / self.output_rate, now)
        else:
            self.leading_samples += int(samples.size)

    def _scan(self) -> None:
        chunks = self._unscanned
        samples = np.frombuffer(chunks[0] if len(chunks) == 1 else b"".join(chunks), dtype="<i2")
        if samples.size:  # the largest magnitude: -(-32768) is 32768 as a Python int
            self._peak = max(self._peak, int(samples.max()), -int(samples.min()))
        self._unscanned = []
        self._unscanned_bytes = 0

    @property
    def peak(self) -> int:
        """The largest sample magnitude of all the audio counted (PCM16 units)."""
        if self._unscanned:
            self._scan()
        return self._peak

    def count_text(self, delta: ev.TranscriptDelta | ev.TextDelta) -> None:
        """The answer's transcript, or text it gave instead of audio (a sub-case of zero audio)."""
        if isinstance(delta, ev.TranscriptDelta):
            self.transcript_chars += len(delta.text)
        else:
            self.text_chars += len(delta.text)

    def interrupt(self, at: float) -> None:
        self.interrupted_at = at
        self.audio_bytes_at_interrupt = self.audio_bytes

    @property
    def peak_dbfs(self) -> float:
        return amplitude_dbfs(self.peak)

    @property
    def audio_after_interrupt_s(self) -> float:
        return (self.audio_bytes - self.audio_bytes_at_interrupt) / (2 * self.output_rate)

    def detail_for(self, code: FailureClass | None, done: ev.ResponseDone) -> str | None:
        """What a record says about how the response ended (beyond its code)."""
        if code is FailureClass.ZERO_AUDIO and self.text_chars:
            return f"text-only response ({self.text_chars} chars of text, no audio)"
        if code is FailureClass.ZERO_AUDIO:
            # Gemini's empty turns may say why (RESPONSE_REJECTED): worth keeping, though no error was raised.
            return "response.done completed with zero audio bytes" + (f" ({done.reason})" if done.reason else "")
        if code is FailureClass.BARGE_IN_IGNORED:
            return f"kept streaming {self.audio_after_interrupt_s:.2f} s of audio after we spoke over it"
        if done.status == "failed":
            return ": ".join(str(p) for p in (done.error_type, done.error_code, done.error_message) if p)
        if done.reason:
            return f"reason {done.reason}"
        return self.detail

    def record(
        self,
        code: FailureClass | None,
        now: float,
        detail: str | None,
        done: ev.ResponseDone | None,
        timing: TurnTiming,
        wall_offset: float,
    ) -> TurnRecord:
        """The response's record; ``timing`` holds the asking turn's reference times (None for unsolicited)."""

        def since(reference: float | None, t: float | None) -> float | None:
            if t is None or reference is None:
                return None
            return round((t - reference) * 1000, 3)

        reference = timing.reference_at if self.solicited else None
        usage = done.usage if done is not None and done.usage is not None else ev.Usage()
        peak = self.peak_dbfs
        stop_ms = None
        if self.interrupted_at is not None:
            last = self.last_audio_at if self.last_audio_at is not None else self.interrupted_at
            stop_ms = round(max(last - self.interrupted_at, 0.0) * 1000, 3)
        return TurnRecord(
            turn=self.turn,
            prompt_id=self.prompt_id,
            outcome=code if code is not None else OK,
            input_audio_s=round(timing.input_audio_s, 4) if self.solicited else 0.0,
            assistant_audio_s=round(self.audio_bytes / (2 * self.output_rate), 4),
            audio_bytes=self.audio_bytes,
            ttfa_ms=since(reference, self.first_audio_at),
            response_ms=since(reference, now) if done is not None else None,
            pacing_lag_ms=round(timing.pacing_lag_s * 1000, 3) if self.solicited else 0.0,
            started_at=round((timing.started_at if self.solicited else self.started_at) + wall_offset, 6),
            ended_at=round(now + wall_offset, 6),
            response_status=done.status if done is not None else None,
            detail=detail,
            peak_dbfs=round(peak, 2) if math.isfinite(peak) else None,
            transcript_chars=self.transcript_chars,
            text_chars=self.text_chars,
            context_truncated=timing.context_truncated,
            **TurnRecord.usage_fields(usage),
            solicited=self.solicited,
            unsolicited_reason=self.reason,
            response_id=self.response_id or None,
            audible_ms=since(reference, self.audible_at),
            leading_silence_ms=round(self.leading_samples * 1000 / self.output_rate, 3)
            if self.audible_at is not None
            else None,
            endpointing_ms=since(timing.speech_end_at, timing.speech_stopped_at) if self.solicited else None,
            barge_in=self.interrupted_at is not None,
            stop_latency_ms=stop_ms,
            audio_after_barge_in_s=round(self.audio_after_interrupt_s, 4) if self.interrupted_at is not None else None,
            after_rotation=timing.after_rotation and self.solicited,
            truncated_at_ms=self.truncated_at_ms,
        )


@dataclass(frozen=True, slots=True)
class TurnTiming:
    """What a record needs from the turn that asked: its reference times and its prompt."""

    started_at: float
    reference_at: float | None
    """TTFA starts here: our commit (manual turns) or the end of the prompt's speech (server VAD)."""
    speech_end_at: float | None
    speech_stopped_at: float | None
    input_audio_s: float
    pacing_lag_s: float
    context_truncated: bool
    after_rotation: bool = False


NO_TURN = TurnTiming(0.0, None, None, None, 0.0, 0.0, False)
