"""The generator benchmark's TTFA error against the mock's truth, and its two ways (up: to the mock; down: back)."""

from __future__ import annotations

import pytest

from benchmarks.generator_runs import TtfaError, TurnTimes, split_figures, ttfa_errors

TRUTH = {"s1": {"turn_asked_at": [100.004, 200.0], "turn_first_audio_at": [100.604, None]}}


def test_a_manual_turns_error_is_the_delay_up_to_the_mock_plus_the_delay_back() -> None:
    # The client's audio ended at 100.000 and it saw the first audio at 100.607: TTFA 607 ms. The mock had the
    # request at 100.004 and sent the first delta at 100.604: its TTFA 600 ms. 4 ms up, 3 ms down.
    [error] = ttfa_errors([TurnTimes("s1", 1, 100.0, 100.607)], TRUTH, "manual")
    assert error.up_ms == pytest.approx(4.0) and error.down_ms == pytest.approx(3.0)
    assert error.total_ms == pytest.approx(7.0)


def test_a_server_vad_turn_has_only_the_way_back_and_turns_without_audio_are_left_out() -> None:
    turns = [TurnTimes("s1", 1, 100.0, 100.607), TurnTimes("s1", 2, 199.0, 200.9), TurnTimes("s2", 1, 1.0, 2.0)]
    [error] = ttfa_errors(turns, TRUTH, "server_vad")
    assert error.up_ms is None and error.down_ms == pytest.approx(3.0)


def test_the_split_figures_are_each_ways_p99_and_turns_without_an_up_count_only_down() -> None:
    errors = [TtfaError(float(n), 2.0 * n) for n in range(1, 101)] + [TtfaError(None, 0.0)] * 100
    up99, down99 = split_figures(errors)
    assert up99 is not None and 98 <= up99 <= 100  # the 100 Nones are not zeros: they would pull it to 50
    assert down99 is not None and 196 <= down99 <= 200
