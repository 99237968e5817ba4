"""The turn being played: its prompt's pacing, what came back, and its record at the end (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from s2s_users.core import events as ev
from s2s_users.core.audio import amplitude_dbfs, peak_amplitude
from s2s_users.core.engine.pacing import ChunkPacer
from s2s_users.core.engine.script import ScriptedPrompt
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.records import OK, TurnRecord


@dataclass(slots=True)
class TurnInProgress:
    """Mutable while the turn runs; ``record()`` freezes it into a ``TurnRecord``. Times are monotonic seconds."""

    index: int
    prompt: ScriptedPrompt
    pacer: ChunkPacer
    started_at: float
    last_event_at: float
    next_chunk: int = 0
    audio_end_at: float | None = None
    first_audio_at: float | None = None
    audio_bytes: int = 0
    peak: int = 0
    transcript_chars: int = 0
    text_chars: int = 0
    context_truncated: bool = False
    detail: str | None = None

    # --- the prompt going out -------------------------------------------------------------------------

    def take_due_chunk(self, now: float) -> str | None:
        """The next prompt chunk if it is due by ``now`` (sent now: its lateness is the pacing lag), else None."""
        chunks = self.prompt.chunks_b64
        if self.next_chunk >= len(chunks) or self.pacer.due(self.next_chunk) > now:
            return None
        self.pacer.sent(self.next_chunk, now)
        self.next_chunk += 1
        return chunks[self.next_chunk - 1]

    def next_chunk_due(self) -> float | None:
        return self.pacer.due(self.next_chunk) if self.next_chunk < len(self.prompt.chunks_b64) else None

    def end_of_prompt(self, now: float) -> None:
        self.audio_end_at = now
        self.last_event_at = now

    def deadline(self, timeout_s: float) -> float | None:
        """When waiting for this turn's answer gives up: first audio, or the next event once audio flows."""
        if self.audio_end_at is None:
            return None
        if self.first_audio_at is None:
            return self.audio_end_at + timeout_s
        return self.last_event_at + timeout_s

    # --- what came back -------------------------------------------------------------------------------

    def count_audio(self, pcm: bytes, now: float) -> None:
        if self.first_audio_at is None and pcm:
            self.first_audio_at = now
        self.audio_bytes += len(pcm)
        self.peak = max(self.peak, peak_amplitude(pcm))

    @property
    def peak_dbfs(self) -> float:
        return amplitude_dbfs(self.peak)

    def response_detail(self, code: FailureClass | None, done: ev.ResponseDone) -> str | None:
        """What a record says about how the response ended (beyond its code)."""
        if code is FailureClass.ZERO_AUDIO and self.text_chars:
            return f"text-only response ({self.text_chars} chars of text, no audio)"
        if code is FailureClass.ZERO_AUDIO:
            # Gemini's empty turns may say why (RESPONSE_REJECTED): worth keeping, though no error was raised.
            return "response.done completed with zero audio bytes" + (f" ({done.reason})" if done.reason else "")
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
        output_rate: int,
        wall_offset: float,
    ) -> TurnRecord:
        def since_audio_end(t: float | None) -> float | None:
            if t is None or self.audio_end_at is None:
                return None
            return round((t - self.audio_end_at) * 1000, 3)

        usage = done.usage if done is not None and done.usage is not None else ev.Usage()
        peak = self.peak_dbfs
        return TurnRecord(
            turn=self.index,
            prompt_id=self.prompt.prompt_id,
            outcome=code if code is not None else OK,
            input_audio_s=round(self.prompt.input_audio_s, 4),
            assistant_audio_s=round(self.audio_bytes / (2 * output_rate), 4),
            audio_bytes=self.audio_bytes,
            ttfa_ms=since_audio_end(self.first_audio_at),
            response_ms=since_audio_end(now) if done is not None else None,
            pacing_lag_ms=round(self.pacer.max_lag_s * 1000, 3),
            started_at=round(self.started_at + wall_offset, 6),
            ended_at=round(now + wall_offset, 6),
            response_status=done.status if done is not None else None,
            detail=detail,
            peak_dbfs=round(peak, 2) if math.isfinite(peak) else None,
            transcript_chars=self.transcript_chars,
            text_chars=self.text_chars,
            context_truncated=self.context_truncated,
            **TurnRecord.usage_fields(usage),
        )
