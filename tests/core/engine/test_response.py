"""A response's audio counters: the peak and the first audible sample, whatever the deltas' sizes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from s2s_users.core.engine.response import SCAN_BYTES, ResponseInProgress

_samples = st.integers(min_value=-32768, max_value=32767)
_deltas = st.lists(
    st.lists(_samples, max_size=40).map(lambda xs: np.array(xs, dtype="<i2").tobytes())
    | st.binary(max_size=9)  # odd lengths: the last byte of a delta is no sample
    | st.sampled_from([bytes(SCAN_BYTES), b"\x00\x80" * (SCAN_BYTES // 2 + 1)]),
    max_size=12,
)


def _expected(deltas: list[bytes], floor: int) -> tuple[int, int, int | None]:
    """(peak, leading samples, index of the delta with the first audible sample), delta by delta."""
    peak, leading, audible = 0, 0, None
    for index, pcm in enumerate(deltas):
        if not pcm:
            continue
        samples = [abs(int(x)) for x in np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")]
        peak = max([peak, *samples])
        if audible is None:
            loud = [i for i, x in enumerate(samples) if x >= floor]
            leading += loud[0] if loud else len(samples)
            audible = index if loud else None
    return peak, leading, audible


@settings(max_examples=300)
@given(_deltas, st.integers(min_value=0, max_value=40000))
def test_the_peak_and_the_first_audible_sample_are_those_of_every_sample(deltas: list[bytes], floor: int) -> None:
    response = ResponseInProgress.starting("r", 1, "p", 0.0, floor, 24_000)
    for index, pcm in enumerate(deltas):
        response.count_audio(pcm, 1.0 + index)
    peak, leading, audible = _expected(deltas, floor)
    assert response.peak == peak
    assert response.audio_bytes == sum(len(pcm) for pcm in deltas)
    assert response.leading_samples == leading
    if audible is None:
        assert response.audible_at is None
    else:
        assert response.audible_at == max(response.first_audio_at + leading / 24_000, 1.0 + audible)


def test_the_peak_can_be_read_between_deltas() -> None:
    response = ResponseInProgress.starting("r", 1, "p", 0.0, 100, 24_000)
    response.count_audio(np.array([500, -200], dtype="<i2").tobytes(), 1.0)
    response.count_audio(np.array([-700, 10], dtype="<i2").tobytes(), 2.0)
    assert response.peak == 700
    response.count_audio(np.array([-32768], dtype="<i2").tobytes(), 3.0)
    assert response.peak == 32768
    assert response.peak_dbfs == 0.0
