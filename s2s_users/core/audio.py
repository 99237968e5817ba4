"""PCM16 audio arithmetic (pure): levels, and band-limited resampling."""

from __future__ import annotations

import math

import numpy as np
import soxr


def resample(samples: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Resample with libsoxr (its "VHQ" filter: band-limited, so downsampling does not alias).

    A whole-file FFT would treat the prompt as periodic: its end would ring into its start. soxr filters the
    signal as it is, and its one-shot call compensates the filter's delay, so the output lines up with the input.
    """
    if src == dst or samples.size == 0:
        return samples
    return np.asarray(soxr.resample(np.asarray(samples, dtype=np.float64), src, dst, quality="VHQ"))


def peak_amplitude(pcm: bytes) -> int:
    """Largest absolute sample of PCM16 audio (0 for nothing); a trailing odd byte is ignored."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    return max(int(samples.max()), -int(samples.min())) if samples.size else 0


def amplitude_dbfs(peak: int) -> float:
    """A PCM16 amplitude in dBFS; -inf for 0."""
    return 20 * math.log10(peak / 32768) if peak > 0 else -math.inf


def peak_dbfs(pcm: bytes) -> float:
    """Peak level of PCM16 audio in dBFS; -inf for silence or nothing."""
    return amplitude_dbfs(peak_amplitude(pcm))
