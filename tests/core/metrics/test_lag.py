"""The chunk-lag histogram: buckets, quantiles, merging, the wire, when a generator counts as late, and the window."""

from __future__ import annotations

import json
import random

import pytest

from s2s_users.core.metrics.lag import LATE_P99_MS, LagHistogram, PacingWindow, bucket_bounds, bucket_of, merged


def test_buckets_are_contiguous_exact_below_0_64_ms_then_within_about_3_percent() -> None:
    previous_high = 0
    for index in range(600):
        low, high = bucket_bounds(index)
        assert low == previous_high and high > low
        assert bucket_of(low) == index and bucket_of(high - 1) == index
        assert index < 64 and high - low == 1 or (high - low) / low <= 1 / 32
        previous_high = high


def test_quantiles_match_the_exact_ones_within_a_bucket() -> None:
    rng = random.Random(4)
    lags = [rng.lognormvariate(-7, 1.5) for _ in range(20_000)]  # seconds: median about 0.9 ms, a long tail
    histogram = LagHistogram()
    for lag in lags:
        histogram.add(lag)
    ordered = sorted(lags)
    for q in (0.5, 0.9, 0.99):
        exact_ms = ordered[int(q * len(ordered))] * 1000
        assert histogram.quantile_ms(q) == pytest.approx(exact_ms, rel=0.04, abs=0.01)
    assert histogram.max_s == max(lags) and histogram.count == len(lags)
    assert histogram.quantile_ms(1.0) == pytest.approx(max(lags) * 1000, rel=0.04)


def test_early_and_on_time_chunks_count_as_no_lag() -> None:
    histogram = LagHistogram()
    histogram.add(-0.001)
    histogram.add(0.0)
    assert histogram.counts == {0: 2} and histogram.max_s == 0.0
    assert histogram.figures().p99_ms == 0.0


def test_merging_equals_counting_everything_in_one_and_survives_the_wire() -> None:
    a, b, both = LagHistogram(), LagHistogram(), LagHistogram()
    for index, lag in enumerate([0.0001, 0.002, 0.013, 0.5, 0.0003, 0.021]):
        (a if index % 2 else b).add(lag)
        both.add(lag)
    assert merged([a, b]) == both
    assert LagHistogram.from_wire(json.loads(json.dumps(both.to_wire()))) == both


def test_take_returns_the_window_and_starts_again() -> None:
    histogram = LagHistogram()
    histogram.add(0.004)
    window = histogram.take()
    assert window.count == 1 and window.max_s == 0.004
    assert not histogram and histogram.max_s == 0.0 and histogram.figures().chunks == 0


def test_a_p99_above_the_threshold_marks_the_generator_late() -> None:
    on_time, late = LagHistogram(), LagHistogram()
    for index in range(1000):
        on_time.add(0.001 if index % 100 else 0.5)  # one chunk in a hundred very late: p99 still on time
        late.add(0.001 if index % 50 else (LATE_P99_MS + 5) / 1000)  # one in fifty: p99 late
    assert not on_time.figures().late and on_time.figures().max_ms == 500.0
    assert late.figures().late
    assert LagHistogram().figures().late is False


def test_bad_wire_data_is_dropped_not_counted() -> None:
    histogram = LagHistogram.from_wire({"counts": [[-1, 5], [3, 0], [3, 2]], "max_s": -1})
    assert histogram.counts == {3: 2} and histogram.max_s == 0.0


def test_a_pacing_window_counts_the_turns_begun_inside_it_and_restarts_empty() -> None:
    window = PacingWindow()
    early, late = LagHistogram(), LagHistogram()
    early.add(0.9)  # start-up: many sessions connecting at once
    late.add(0.002)
    window.add_turn(1.0, early)
    assert window.lags.count == 1  # no window yet: everything counts
    window.restart(5.0)
    assert window.lags.count == 0
    window.add_turn(4.9, early)  # began before the restart, ended after it
    window.add_turn(5.0, late)
    assert window.lags.count == 1 and window.lags.max_s == 0.002
