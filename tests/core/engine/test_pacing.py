"""Deadline pacing on a fake clock."""

from __future__ import annotations

import pytest

from s2s_users.core.engine.pacing import ChunkPacer, Pace, parse_pace
from s2s_users.core.exceptions import ConfigError


def test_chunk_k_is_due_at_t0_plus_k_chunks_in_real_time() -> None:
    pacer = ChunkPacer(t0=100.0, chunk_s=0.02, pace=Pace(1.0))
    assert [pacer.due(k) for k in range(4)] == pytest.approx([100.0, 100.02, 100.04, 100.06])


def test_a_speed_factor_divides_the_spacing() -> None:
    pacer = ChunkPacer(t0=0.0, chunk_s=0.02, pace=Pace(4.0))
    assert pacer.due(8) == pytest.approx(0.04)


def test_burst_makes_every_chunk_due_at_once() -> None:
    pacer = ChunkPacer(t0=5.0, chunk_s=0.02, pace=Pace(None))
    assert {pacer.due(k) for k in range(50)} == {5.0}


def test_lag_is_the_worst_lateness_against_absolute_deadlines() -> None:
    pacer = ChunkPacer(t0=0.0, chunk_s=0.02, pace=Pace(1.0))
    pacer.sent(0, 0.001)
    pacer.sent(1, 0.025)  # 5 ms late
    pacer.sent(2, 0.041)  # 1 ms late: lateness does not accumulate
    assert pacer.max_lag_s == pytest.approx(0.005)


def test_every_chunk_lag_is_counted_not_only_the_worst() -> None:
    pacer = ChunkPacer(t0=0.0, chunk_s=0.1, pace=Pace(1.0))
    for index, lag in enumerate([0.0, 0.0002, 0.003, 0.040]):
        pacer.sent(index, index * 0.1 + lag)
    assert pacer.lags.count == 4
    assert pacer.lags.quantile_ms(0.75) == pytest.approx(3.0, rel=0.04)
    assert pacer.lags.max_s == pytest.approx(0.040)


@pytest.mark.parametrize(("text", "speed"), [("realtime", 1.0), ("burst", None), ("4", 4.0), ("2.5x", 2.5)])
def test_pace_option_values(text: str, speed: float | None) -> None:
    assert parse_pace(text).speed == speed


@pytest.mark.parametrize("text", ["fast", "0", "-2", "inf", ""])
def test_bad_pace_option_is_a_one_line_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="--s2s-pace"):
        parse_pace(text)
