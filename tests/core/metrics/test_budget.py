"""The run's cost so far (for --max-cost) and the capacity it has learned (for the early warning)."""

from __future__ import annotations

import pytest

from s2s_users.core.metrics.budget import CapacityLearner, CostMeter
from tests.support.records import session


def test_the_cost_counts_ended_sessions_and_the_open_ones_where_they_are_now() -> None:
    meter = CostMeter(limit_usd=1.0)
    first, later = session("a", estimated_cost_usd=0.3), session("a", estimated_cost_usd=0.7)
    meter.replace_open(None, first)
    assert meter.total_usd == pytest.approx(0.3) and not meter.over_budget
    meter.replace_open(first, later)
    meter.add_session(session("b", estimated_cost_usd=0.2))
    assert meter.total_usd == pytest.approx(0.9) and not meter.over_budget
    meter.replace_open(later, None)  # it ended: its record comes as a session
    meter.add_session(later)
    assert meter.total_usd == pytest.approx(0.9) and not meter.over_budget
    meter.add_session(session("c", estimated_cost_usd=0.15))
    assert meter.total_usd == pytest.approx(1.05) and meter.over_budget
    assert not CostMeter(limit_usd=None).over_budget


def test_the_learned_capacity_is_the_median_of_silent_failures_outside_the_rotated_arm() -> None:
    learner = CapacityLearner()
    for capacity in (290.0, 300.0, 330.0):
        learner.add_session(session(capacity_to_silent_failure_s=capacity, silent_failure_turn=30, model="m2"))
    learner.add_session(session(capacity_to_silent_failure_s=10.0, silent_failure_turn=2, model="m2", arm="rotated"))
    learner.add_session(session(capacity_to_silent_failure_s=600.0, model="m1"))  # censored: teaches nothing
    assert learner.capacities() == {"m2": 300.0}
