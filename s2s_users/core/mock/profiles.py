"""Model profiles of the mock: how much audio each turn gets, how fast it streams, where and how it breaks."""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace


class Fault(enum.StrEnum):
    """Every failure the mock can inject into a turn (by ceiling, by probability, or at a given turn)."""

    ZERO_AUDIO_ABORT = "zero_audio_abort"
    """The seed's failure: response.done completed with zero audio, then TCP abort on the next client message."""
    ZERO_AUDIO = "zero_audio"
    """response.done completed with zero audio; the socket stays open."""
    NEAR_SILENT = "near_silent"
    """A completed response whose audio peaks around -70 dBFS."""
    FAILED = "failed"
    """response.done with status failed and status_details.error."""
    INCOMPLETE = "incomplete"
    """Part of the audio, then response.done with status incomplete (reason max_output_tokens)."""
    CANCELLED = "cancelled"
    """Part of the audio, then response.done with status cancelled (reason turn_detected)."""
    TRUNCATION = "truncation"
    """conversation.item.deleted and .truncated for the oldest items, then a normal answer."""
    ERROR_CLOSE = "error_close"
    """An error event, then a close frame with the profile's ``close_code``."""
    CLOSE_1011_MID = "close_1011_mid"
    """Part of the audio, then close 1011 (internal error) mid-response."""
    STALL = "stall"
    """Part of the audio, then nothing more; the socket stays open."""
    ABORT_MID = "abort_mid"
    """Part of the audio, then a TCP abort (no close frame)."""


#: Faults that cut an answer short, halfway through its audio.
CUT_SHORT = frozenset({Fault.INCOMPLETE, Fault.CANCELLED, Fault.CLOSE_1011_MID, Fault.STALL, Fault.ABORT_MID})
PARTIAL = 0.5

#: The key the mock accepts unless told another (the embedded mock is reached on loopback only).
DEFAULT_MOCK_API_KEY = "mock-key"

#: What can follow a Gemini goAway (see ``ModelProfile.after_go_away``).
AFTER_GO_AWAY = ("close", "silence", "early_close")

#: Handshake statuses the mock can answer instead of 101.
REJECT_STATUSES = (401, 404, 429, 503)
SESSION_CAP_REASON = "Your session hit the maximum duration of 60 minutes."


@dataclass(frozen=True, slots=True)
class AudioDistribution:
    """Assistant audio seconds per turn: constant, uniform (low..high) or lognormal (median, P95), clipped."""

    kind: str = "lognormal"
    median: float = 6.0
    p95: float = 8.0
    low: float = 0.0
    high: float = 0.0
    minimum: float = 0.5
    maximum: float = 30.0

    def draw(self, rng: random.Random) -> float:
        if self.kind == "constant":
            value = self.median
        elif self.kind == "uniform":
            value = rng.uniform(self.low, self.high)
        else:
            sigma = math.log(self.p95 / self.median) / 1.6449 if self.p95 > self.median else 0.0
            value = rng.lognormvariate(math.log(self.median), sigma)
        return min(max(value, self.minimum), self.maximum)


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """One model as the mock plays it. Times are server-side seconds, divided by the mock's time scale."""

    name: str
    audio: AudioDistribution
    ttfa_s: float = 0.6
    stream_speed: float = 4.0
    delta_ms: int = 100
    ceiling_s: float | None = None
    ceiling_fault: Fault = Fault.ZERO_AUDIO_ABORT
    faults: Mapping[Fault, float] = field(default_factory=dict)
    faults_at: Mapping[int, Fault] = field(default_factory=dict)
    flavour: str = "ga"
    voice: str = "marin"
    session_cap_s: float | None = None
    close_code: int = 1011
    reject: Mapping[int, float] = field(default_factory=dict)
    leading_silence_ms: int = 0
    """Digital silence at the start of every answer (providers send 75–340 ms): what a caller does not hear."""
    vad_silence_ms: int = 500
    """Server VAD: silence that ends the user's speech (short: the VAD splits prompts at their pauses)."""
    leftover: float = 0.0
    """Server VAD: probability, after each answer, of taking the next audio (silence, noise) for speech."""
    leftover_at: tuple[int, ...] = ()
    """Server VAD: after these answers (counted from 1, leftover ones not counted), the next audio is taken for
    speech."""
    barge_in: str = "cancel"
    """When the user speaks over an answer: "cancel" it (as a server with interrupt_response does) or "ignore"."""
    barge_in_stop_ms: int = 200
    """How long the answer keeps streaming after the user starts speaking over it, before it is cancelled."""
    go_away_s: float = 60.0
    """Gemini: how long before ``session_cap_s`` the goAway comes (its ``timeLeft``)."""
    after_go_away: str = "close"
    """Gemini: what follows the goAway: ``close`` when its time is up (1011 "Deadline expired"), ``silence`` (the
    server answers nothing more and never closes), or ``early_close`` (closes when half the time is left)."""

    def draw_audio_s(self, rng: random.Random) -> float:
        return self.audio.draw(rng)

    def draw_answer_samples(self, rng: random.Random, rate: int, fault: Fault | None) -> int:
        """The audio an answer sends, in samples at ``rate``: drawn, and halved by a fault that cuts it short."""
        samples = round(self.draw_audio_s(rng) * rate)
        return round(samples * PARTIAL) if fault in CUT_SHORT else samples

    def with_ceiling(self, ceiling_s: float | None) -> ModelProfile:
        return replace(self, ceiling_s=ceiling_s)

    def fault_for(self, turn: int, audio_in_context_s: float, rng: random.Random) -> Fault | None:
        """The fault of turn ``turn`` (1-based): a scheduled one, the ceiling's, or a random draw."""
        if turn in self.faults_at:
            return self.faults_at[turn]
        if self.ceiling_s is not None and audio_in_context_s >= self.ceiling_s:
            return self.ceiling_fault
        for fault, probability in self.faults.items():
            if rng.random() < probability:
                return fault
        return None


def _lognormal(median: float, p95: float, low: float, high: float) -> AudioDistribution:
    return AudioDistribution("lognormal", median=median, p95=p95, minimum=low, maximum=high)


DEFAULT_PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile("gpt-realtime", _lognormal(6.05, 8.15, 2.5, 9.5)),
        ModelProfile("gpt-realtime-mini", _lognormal(4.5, 6.5, 2.0, 8.0)),
        # The seed's model: once 300 s of assistant audio are in context, zero audio, then a drop.
        ModelProfile("gpt-realtime-2", _lognormal(9.65, 14.0, 3.0, 15.0), ceiling_s=300.0),
        # Gemini Live's connections last about 10 minutes, with a goAway a minute before the end.
        ModelProfile("gemini-live-2.5-flash", _lognormal(6.05, 8.15, 2.5, 9.5), ttfa_s=0.9, session_cap_s=600.0),
        ModelProfile("gemini-3.1-flash-live", _lognormal(7.0, 10.0, 2.5, 12.0), ttfa_s=0.8, session_cap_s=600.0),
    )
}
