"""The generator benchmark's ramps and its 1 vs 2 workers part: CPU slices' budgets, and the scaling it reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from benchmarks.generator_capacity import Row, side_by_side, workers_scaling
from benchmarks.generator_runs import slice_budget_us

ROW = Row(repeat=0, client="s2s_users x1", chunk_ms=20, turn_mode="manual", workers=1, sessions=0, cpu_percent=0.0,
          master_cpu_percent=0.0, mock_cpu_percent=30.0, chunks=100, lag_p50_ms=0.4, lag_p99_ms=2.0, lag_max_ms=9.0,
          cpu_us_per_session_s=0.0, rss_mb=0.0, ttfa_error_p50_ms=None, ttfa_error_p99_ms=None, ttfa_up_p99_ms=None,
          ttfa_down_p99_ms=None, turns_ok=10, errors=0,
          held=True, mock_bound=False)  # fmt: skip


def _row(repeat: int, workers: int, sessions: int, held: bool, master: float = 0.5) -> Row:
    return dataclasses.replace(ROW, repeat=repeat, workers=workers, sessions=sessions, held=held,
                               master_cpu_percent=master)  # fmt: skip


def test_a_slice_is_its_share_of_each_period() -> None:
    assert slice_budget_us(45, 20) == (20_000, 9_000)
    assert slice_budget_us(40, 2.5) == (2_500, 1_000)


def test_a_slice_under_the_kernels_least_quota_or_outside_a_core_is_refused() -> None:
    with pytest.raises(ValueError, match="under the kernel's 1 ms least"):
        slice_budget_us(10, 5)
    with pytest.raises(ValueError, match="between 0 and 100 %"):
        slice_budget_us(120, 20)


def test_scaling_is_the_median_most_sessions_held_by_two_workers_over_one() -> None:
    rows = [
        _row(0, 1, 60, True), _row(0, 1, 70, True), _row(0, 1, 75, False),
        _row(0, 2, 140, True, master=0.8), _row(0, 2, 150, False),
        _row(1, 1, 60, True), _row(1, 1, 65, False),
        _row(1, 2, 120, True), _row(1, 2, 130, True, master=1.2), _row(1, 2, 140, False),
    ]  # fmt: skip
    assert workers_scaling(rows) == {
        "workers_held_1": 65.0,  # the median of 70 and 60
        "workers_held_2": 135.0,
        "workers_scaling": 2.08,
        "workers_master_cpu_percent": 1.0,
    }


def test_a_mock_bound_level_does_not_count_and_no_level_held_gives_no_ratio() -> None:
    rows = [_row(0, 1, 60, True), dataclasses.replace(_row(0, 2, 120, True), mock_bound=True)]
    assert workers_scaling(rows)["workers_held_2"] is None and workers_scaling(rows)["workers_scaling"] is None


def test_side_by_side_runs_each_contender_until_its_first_level_not_held_in_alternating_order() -> None:
    runs: list[tuple[str, int]] = []

    def contender(name: str, limit: int) -> Callable[[int], Row]:
        def at(level: int) -> Row:
            runs.append((name, level))
            return _row(0, 1, level, held=level <= limit)

        return at

    rows = side_by_side(1, [10, 20, 30, 40], {"a": contender("a", 10), "b": contender("b", 30)})
    assert runs == [("b", 10), ("a", 10), ("b", 20), ("a", 20), ("b", 30), ("b", 40)]  # repeat 1: reversed
    assert [r.held for r in rows] == [True, True, True, False, True, False]
