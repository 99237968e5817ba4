"""Kaplan–Meier against a hand-computed example with censoring."""

from __future__ import annotations

import pytest

from s2s_users.core.metrics.survival import kaplan_meier, kaplan_meier_counts


def test_kaplan_meier_matches_the_hand_computation() -> None:
    # t=1: 6 at risk, 1 event → 5/6; t=2: 5 at risk, 1 event (+1 censored) → 5/6·4/5 = 2/3;
    # t=3: 3 at risk, 1 event → 2/3·2/3 = 4/9; t=4 censored; t=5: 1 at risk, 1 event → 0.
    curve = kaplan_meier([1, 2, 2, 3, 4, 5], [True, True, False, True, False, True])
    assert curve.times == (1, 2, 3, 5)
    assert curve.survival == pytest.approx((5 / 6, 2 / 3, 4 / 9, 0.0))
    assert curve.at_risk == (6, 5, 3, 1)
    assert curve.median() == 3


def test_no_events_means_no_median() -> None:
    curve = kaplan_meier([10.0, 20.0], [False, False])
    assert curve.times == () and curve.median() is None and curve.median_ci() == (None, None)


def test_ties_count_every_event_at_that_time() -> None:
    curve = kaplan_meier([5, 5, 5, 9], [True, True, False, True])
    assert curve.survival[0] == pytest.approx(0.5) and curve.median() == 5


def test_the_median_interval_contains_the_median() -> None:
    durations = [float(x) for x in range(1, 41)]
    curve = kaplan_meier(durations, [True] * 40)
    low, high = curve.median_ci()
    assert low is not None and high is not None and low <= curve.median() <= high  # type: ignore[operator]


def test_counts_give_the_same_curve_as_the_durations_they_summarise() -> None:
    # The hand example above as (time, events, censored) rows, split and out of order as a live view sends them.
    rows = [(5, 1, 0), (2, 0, 1), (1, 1, 0), (2, 1, 0), (4, 0, 1), (3, 1, 0)]
    assert kaplan_meier_counts(rows) == kaplan_meier([1, 2, 2, 3, 4, 5], [True, True, False, True, False, True])
