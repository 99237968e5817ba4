"""Soak shapes as pure schedules: what each wants at each second, and when it ends."""

from __future__ import annotations

import pytest

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.load_shapes import ShapeSettings, StartSpacer, duration_s, tick


def shape(name: str, **changes: float) -> ShapeSettings:
    values: dict[str, float] = {"peak": 40, "rate": 2.0, "ramp_s": 60, "hold_s": 600, "steps": 4, "base": 4}
    values.update(changes)
    return ShapeSettings(name=name, **values).check()  # type: ignore[arg-type]


def test_ramp_and_hold_climbs_in_a_straight_line_then_holds_then_ends() -> None:
    s = shape("ramp-and-hold")
    assert tick(s, 0) == (40, 40 / 60)  # the spawn rate draws the line: 40 users in 60 s
    assert tick(s, 659) == (40, 40 / 60)
    assert tick(s, 660) is None
    assert duration_s(s) == 660


def test_steps_climb_in_equal_steps_then_hold_the_peak() -> None:
    s = shape("steps")
    assert [tick(s, t) for t in (0, 59, 60, 120, 180, 240, 839)] == [
        (10, 2.0), (10, 2.0), (20, 2.0), (30, 2.0), (40, 2.0), (40, 2.0), (40, 2.0),
    ]  # fmt: skip
    assert tick(s, 840) is None and duration_s(s) == 840


def test_a_spike_rises_from_the_base_and_falls_back() -> None:
    s = shape("spike", hold_s=30)
    assert [tick(s, t) for t in (0, 59, 60, 89, 90, 149)] == [
        (4, 2.0), (4, 2.0), (40, 2.0), (40, 2.0), (4, 2.0), (4, 2.0),
    ]  # fmt: skip
    assert tick(s, 150) is None and duration_s(s) == 150


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        ("ramp-and-hold", {"peak": 0}, "--shape ramp-and-hold needs users"),
        ("steps", {"ramp_s": 0}, "--shape steps: --shape-ramp and --shape-hold must be more than 0 s"),
        ("steps", {"steps": 41}, "--shape-steps 41 is out of range"),
        ("spike", {"base": 40}, "--shape-base-users 40 is out of range"),
    ],
)
def test_impossible_shapes_are_refused_with_one_line(name: str, changes: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        shape(name, **changes)
    assert str(info.value).startswith(message)


def test_users_spawned_together_start_one_by_one_at_the_spawn_rate() -> None:
    spacer = StartSpacer()
    delays = [spacer.delay(10.0, rate=50.0) for _ in range(50)]  # Locust's step: 50 users at one instant
    assert delays[0] == 0.0 and delays[-1] == pytest.approx(0.98)
    assert all(b - a == pytest.approx(0.02) for a, b in zip(delays, delays[1:], strict=False))
    assert spacer.delay(11.0, rate=50.0) == 0.0  # the next step starts on time


def test_a_rate_that_is_not_the_one_spawning_never_holds_a_user_back_more_than_a_step() -> None:
    spacer = StartSpacer()
    delays = [spacer.delay(0.0, rate=1.0) for _ in range(5)]  # five users at once, a rate of one a second
    assert delays == [0.0, 1.0, 1.0, 1.0, 1.0]


def test_without_a_usable_rate_users_start_at_once() -> None:
    spacer = StartSpacer()
    assert [spacer.delay(0.0, rate) for rate in (None, 0.0, -1.0, float("inf"))] == [0.0] * 4
