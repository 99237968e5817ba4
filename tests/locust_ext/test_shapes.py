"""``--shape`` becomes the environment's ``LoadTestShape``, reading -u, -r and --shape-* when it ticks."""

from __future__ import annotations

from locust.env import Environment

from argparse import Namespace

import pytest

from s2s_users.core.exceptions import ConfigError
from s2s_users.locust_ext.shapes import RampAndHold, Spike, Steps, install_shape


def environment(shape: str, **changes: object) -> Environment:
    values: dict[str, object] = {
        "shape": shape, "num_users": 12, "spawn_rate": 3.0, "shape_ramp": 60, "shape_hold": 600,
        "shape_steps": 4, "shape_base_users": 2,
    }  # fmt: skip
    values.update(changes)
    env = Environment(parsed_options=Namespace(**values))
    env.create_local_runner()
    return env


@pytest.mark.parametrize(("name", "cls"), [("ramp-and-hold", RampAndHold), ("steps", Steps), ("spike", Spike)])
def test_the_named_shape_drives_the_runner(name: str, cls: type) -> None:
    env = environment(name)
    install_shape(env)
    shape = env.shape_class
    assert type(shape) is cls and shape.runner is env.runner and shape.use_common_options
    first = shape.tick()
    assert first == {"ramp-and-hold": (12, 12 / 60), "steps": (3, 3.0), "spike": (2, 3.0)}[name]


def test_options_changed_later_are_read_at_the_next_tick_and_none_takes_the_shape_away() -> None:
    env = environment("ramp-and-hold")
    install_shape(env)
    env.parsed_options.num_users = 30  # as the start form sets -u
    assert env.shape_class.tick() == (30, 0.5)
    env.parsed_options.shape = "none"
    install_shape(env)
    assert env.shape_class is None


def test_no_shape_leaves_locusts_own_users_and_rate() -> None:
    env = environment("none")
    install_shape(env)
    assert env.shape_class is None


def test_an_impossible_shape_fails_when_installed() -> None:
    with pytest.raises(ConfigError, match="--shape-steps 20 is out of range"):
        install_shape(environment("steps", shape_steps=20))


def test_the_start_form_checks_a_shape_with_the_users_it_asks_for() -> None:
    env = environment("steps", num_users=2, shape_steps=4)  # 4 steps cannot reach 2 users...
    asked = Namespace(**{**vars(env.parsed_options), "num_users": 8})  # ...but the form asks for 8
    install_shape(env, checked_with=asked)
    assert type(env.shape_class) is Steps
