"""The scripted conversation: which prompt each turn plays, cut into pre-encoded chunks.

Built once per process and shared by every session (everything here is immutable), so base64 encoding of
prompt audio happens once, not on every send. Where each prompt's speech starts and ends is measured here once
from the audio (a prompt file has a little silence around its speech): the turn's user audio ends where the
speech ends, not where the last chunk happens to be sent.

Between turns a microphone keeps sending what it hears: with a *carrier* (server VAD), the client streams
pre-encoded frames of silence or low noise after each prompt until the next one starts.
"""

from __future__ import annotations

import base64
import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from s2s_users.core.exceptions import ConfigError

#: Where speech is: 20 ms frames whose RMS is above this (about -40 dBFS); prompts sit far above, silence at 0.
SPEECH_FRAME_S = 0.020
SPEECH_RMS = 328.0
#: The noise carrier: white noise about 60 dB below full scale, as a quiet room through a phone line.
NOISE_RMS = 32.0
NOISE_FRAMES = 50


class Carrier(enum.StrEnum):
    """What the client streams between prompts in server-VAD mode."""

    OFF = "off"  # nothing but the trailing silence after each prompt (--vad-silence-ms)
    SILENCE = "silence"  # digital silence, in real time
    NOISE = "noise"  # low white noise, in real time


@dataclass(frozen=True, slots=True)
class ScriptedPrompt:
    """One prompt, ready to stream: base64 chunks of PCM16 mono, prompt first, then trailing silence."""

    prompt_id: str
    input_audio_s: float
    chunks_b64: tuple[str, ...]
    prompt_chunks: int
    """How many of ``chunks_b64`` are the prompt itself; the rest is trailing silence (server VAD)."""
    speech_start_s: float = 0.0
    """Where the prompt's speech starts, from the start of its audio."""
    speech_end_s: float = 0.0
    """Where the prompt's speech ends, from the start of its audio (0: nothing above the speech level)."""


@dataclass(frozen=True, slots=True)
class Script:
    """Turn ``i`` (1-based) plays ``prompts[(i - 1) % len(prompts)]``: every session hears the same order."""

    prompts: tuple[ScriptedPrompt, ...]
    chunk_s: float
    carrier_b64: tuple[str, ...] = ()
    """Chunks streamed in turn between prompts (empty: no carrier)."""

    def prompt_for_turn(self, turn: int) -> ScriptedPrompt:
        return self.prompts[(turn - 1) % len(self.prompts)]


def _chunks(pcm: bytes, chunk_bytes: int) -> list[str]:
    return [base64.b64encode(pcm[i : i + chunk_bytes]).decode("ascii") for i in range(0, len(pcm), chunk_bytes)]


def speech_bounds(pcm: bytes, sample_rate: int) -> tuple[float, float]:
    """(start, end) of the speech in PCM16 audio, in seconds, on 20 ms frames; (0, 0) when there is none."""
    frame = max(1, round(sample_rate * SPEECH_FRAME_S))
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    usable = samples.size // frame * frame
    if usable == 0:
        return 0.0, 0.0
    rms = np.sqrt((samples[:usable].reshape(-1, frame) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms >= SPEECH_RMS)
    if loud.size == 0:
        return 0.0, 0.0
    return float(loud[0] * frame / sample_rate), float((loud[-1] + 1) * frame / sample_rate)


def carrier_chunks(carrier: Carrier, sample_rate: int, chunk_ms: int) -> tuple[str, ...]:
    """Pre-encoded carrier chunks (cycled in turn); deterministic, so every run streams the same noise."""
    if carrier is Carrier.OFF:
        return ()
    chunk_samples = sample_rate * chunk_ms // 1000
    if carrier is Carrier.SILENCE:
        return (base64.b64encode(bytes(2 * chunk_samples)).decode("ascii"),)
    rng = random.Random(20_240_601)
    chunks = []
    for _ in range(NOISE_FRAMES):
        noise = np.array([rng.gauss(0.0, NOISE_RMS) for _ in range(chunk_samples)])
        chunks.append(base64.b64encode(np.round(noise).astype("<i2").tobytes()).decode("ascii"))
    return tuple(chunks)


def build_script(
    prompts: Sequence[tuple[str, bytes]],
    sample_rate: int,
    chunk_ms: int,
    trailing_silence_ms: int = 0,
    carrier: Carrier = Carrier.OFF,
) -> Script:
    """Cut ``(prompt_id, pcm16)`` pairs into base64 chunks of ``chunk_ms``, adding trailing silence if asked.

    Raises:
        ConfigError: no prompts, an empty prompt, or a chunk size outside 10–1000 ms.
    """
    if not prompts:
        raise ConfigError("no prompts to play: check --prompts (a folder of WAV/FLAC files)")
    if not 10 <= chunk_ms <= 1000:
        raise ConfigError(f"--chunk-ms {chunk_ms} is out of range: use 10 to 1000 (20 is typical)")
    # An empty prompt has no last chunk, so its turn would never be sent and the session would wait for ever.
    if empty := [prompt_id for prompt_id, pcm in prompts if not pcm]:
        raise ConfigError(f"prompt {empty[0]} is empty: remove it or record it again")
    chunk_bytes = sample_rate * 2 * chunk_ms // 1000
    silence = bytes(sample_rate * 2 * trailing_silence_ms // 1000)
    scripted = []
    for prompt_id, pcm in prompts:
        prompt_chunks = _chunks(pcm, chunk_bytes)
        start, end = speech_bounds(pcm, sample_rate)
        scripted.append(
            ScriptedPrompt(
                prompt_id=prompt_id,
                input_audio_s=len(pcm) / (2 * sample_rate),
                chunks_b64=tuple(prompt_chunks + _chunks(silence, chunk_bytes)),
                prompt_chunks=len(prompt_chunks),
                speech_start_s=start,
                speech_end_s=end if end > 0 else len(pcm) / (2 * sample_rate),
            )
        )
    carrier_b64 = carrier_chunks(carrier, sample_rate, chunk_ms)
    return Script(prompts=tuple(scripted), chunk_s=chunk_ms / 1000, carrier_b64=carrier_b64)
