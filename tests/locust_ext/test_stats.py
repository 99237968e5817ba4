"""Locust's request events from turns: one row per model, TTFA as the time, failed turns as failures by code."""

from __future__ import annotations

from locust.env import Environment

import pytest

from s2s_users.locust_ext.stats import REQUEST_TYPE, TaxonomyFailure, fire_turn
from tests.support.records import turn


@pytest.fixture
def environment() -> Environment:
    env = Environment()
    env.create_local_runner()
    return env


def test_turns_become_one_request_row_per_model_timed_by_ttfa(environment: Environment) -> None:
    fire_turn(environment.events, "gpt-realtime", turn(0, ttfa_ms=420.0, response_ms=3900.0))
    fire_turn(environment.events, "gpt-realtime", turn(1, ttfa_ms=610.0, response_ms=5100.0))
    fire_turn(environment.events, "gpt-realtime-2", turn(0, ttfa_ms=500.0))
    stats = environment.runner.stats
    assert sorted(stats.entries) == [("gpt-realtime", REQUEST_TYPE), ("gpt-realtime-2", REQUEST_TYPE)]
    row = stats.get("gpt-realtime", REQUEST_TYPE)
    assert (row.num_requests, row.num_failures, row.max_response_time, row.min_response_time) == (2, 0, 610, 420)
    assert stats.total.num_requests == 3 and stats.total.max_response_time == 610


def test_failed_turns_are_failures_keyed_by_code_and_without_audio_have_no_time(environment: Environment) -> None:
    fire_turn(environment.events, "m", turn(0, ttfa_ms=400.0))
    fire_turn(environment.events, "m", turn(1, outcome="response.zero_audio", ttfa_ms=None, response_ms=700.0))
    fire_turn(environment.events, "m", turn(2, outcome="timeout.stall", ttfa_ms=300.0, response_ms=31_000.0))
    row = environment.runner.stats.get("m", REQUEST_TYPE)
    assert (row.num_requests, row.num_failures, row.num_none_requests) == (3, 2, 1)
    assert row.max_response_time == 400  # times are TTFA only, never a response's or a timeout's length
    errors = {error.error for error in environment.runner.stats.errors.values()}
    assert {repr(e) for e in errors} == {"response.zero_audio", "timeout.stall"}
    assert all(isinstance(e, TaxonomyFailure) for e in errors)


@pytest.mark.parametrize("outcome", ["harness.stopped", "session.expired", "harness.worker_lost"])
def test_ends_that_are_not_the_services_doing_are_not_requests(environment: Environment, outcome: str) -> None:
    fire_turn(environment.events, "m", turn(0, outcome=outcome, ttfa_ms=None))
    assert environment.runner.stats.total.num_requests == 0
