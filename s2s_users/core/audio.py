"""PCM16 audio arithmetic (pure): levels, and band-limited resampling."""

from __future__ import annotations

import math

import numpy as np


def resample(samples: np.ndarray, src: int, dst: int) -> np.ndarray:
    """FFT resampling (band-limited, so downsampling does not alias)."""
    if src == dst or samples.size == 0:
        return samples
    n_out = max(1, round(samples.size * dst / src))
    spectrum = np.fft.rfft(samples)
    keep = n_out // 2 + 1
    if keep <= spectrum.size:
        spectrum = spectrum[:keep]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(keep - spectrum.size, dtype=spectrum.dtype)])
    return np.fft.irfft(spectrum, n_out) * (n_out / samples.size)


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
