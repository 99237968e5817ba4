"""The mock's voice: a cheap voice-like signal (and its near-silent twin), cut into audio deltas, and the words of
its transcript."""

from __future__ import annotations

import base64
from functools import lru_cache

import numpy as np

from s2s_users.core.protocols.openai_wire import SAMPLE_RATE

RATE = SAMPLE_RATE
NEAR_SILENT_GAIN = 10 ** (-64 / 20)  # the voice peaks near -6 dBFS: this puts it near -70 dBFS
WORDS = "well that is a great question let me think about it for a moment and then answer you properly".split()


def transcript_word(index: int) -> str | None:
    """The transcript that goes with an answer's audio delta ``index`` (0-based): a word every fifth delta."""
    return WORDS[index // 5 % len(WORDS)] + " " if index % 5 == 0 else None


@lru_cache(maxsize=1)
def voice_buffer() -> bytes:
    """20 s of a cheap voice-like signal: harmonics on a drifting pitch under a syllable-rate envelope."""
    t = np.arange(20 * RATE) / RATE
    pitch = 140 + 25 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t) ** 2
    signal = tone * envelope
    signal = 0.5 * signal / np.abs(signal).max()  # peak about -6 dBFS
    return bytes((signal * 32767).astype("<i2").tobytes())


@lru_cache(maxsize=1)
def quiet_buffer() -> bytes:
    """The same voice, 64 dB down: audio that a client must flag as near-silent."""
    loud = np.frombuffer(voice_buffer(), dtype="<i2").astype(np.float64)
    return bytes(np.round(loud * NEAR_SILENT_GAIN).astype("<i2").tobytes())


def delta_b64(offset: int, length: int, quiet: bool = False) -> str:
    # Not memoised: offsets are random, so a cache hit about 1 % of the deltas while holding 4,096 of them (over
    # 200 MB of RSS per mock with 500 ms deltas), and evicting made a miss slower than encoding.
    buffer = quiet_buffer() if quiet else voice_buffer()
    start = offset % (len(buffer) - length)
    return base64.b64encode(buffer[start : start + length]).decode("ascii")


def answer_delta_b64(offset: int, start: int, samples: int, silent: int, quiet: bool = False) -> str:
    """Samples ``start..start+samples`` of an answer whose first ``silent`` samples are digital silence."""
    if start + samples <= silent:
        return _silence_b64(samples)
    if start >= silent:
        return delta_b64(offset + start * 2, samples * 2, quiet)
    quiet_part = silent - start
    voiced = base64.b64decode(delta_b64(offset + silent * 2, (samples - quiet_part) * 2, quiet))
    return base64.b64encode(bytes(2 * quiet_part) + voiced).decode("ascii")


@lru_cache(maxsize=64)
def _silence_b64(samples: int) -> str:
    return base64.b64encode(bytes(2 * samples)).decode("ascii")
