"""Scenario files: the bundled examples load, profiles come out as written, and bad files fail with one line."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.mock.profiles import DEFAULT_PROFILES, Fault
from s2s_users.core.mock.scenario import SCENARIO_DIR, load_scenario, parse_scenario


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_every_bundled_scenario_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.models and all(model in scenario.profiles for model in scenario.models)


def test_a_bundled_scenario_is_found_by_its_file_name_or_its_bare_name() -> None:
    assert load_scenario(Path("seed.toml")).profiles["gpt-realtime-2"].ceiling_s == 300
    assert load_scenario(Path("seed")).profiles["gpt-realtime-2"].ceiling_s == 300


def test_profiles_carry_what_the_file_says_and_keep_the_built_in_models() -> None:
    scenario = parse_scenario({
        "seed": 4,
        "models": {"m": {
            "audio": {"dist": "uniform", "low": 2, "high": 3}, "faults": {"stall": 0.5},
            "faults_at": {"3": "near_silent"}, "reject": {"503": 0.1}, "flavour": "beta", "session_cap_s": 60,
        }},
    })  # fmt: skip
    profile = scenario.profiles["m"]
    assert scenario.seed == 4 and scenario.models == ("m",) and "gpt-realtime" in scenario.profiles
    assert profile.faults == {Fault.STALL: 0.5} and profile.faults_at == {3: Fault.NEAR_SILENT}
    assert profile.reject == {503: 0.1} and profile.flavour == "beta" and profile.session_cap_s == 60
    assert all(2 <= profile.draw_audio_s(random.Random(i)) <= 3 for i in range(50))


def test_a_scheduled_fault_wins_and_the_ceiling_applies_past_it() -> None:
    profile = DEFAULT_PROFILES["gpt-realtime-2"]
    rng = random.Random(0)
    assert profile.fault_for(1, 0.0, rng) is None
    assert profile.fault_for(5, 300.0, rng) is Fault.ZERO_AUDIO_ABORT


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"models": {}}, "no [models.NAME] table"),
        ({"models": {"m": {"faults": {"explode": 0.1}}}}, "unknown fault 'explode'"),
        ({"models": {"m": {"faults": {"stall": 2}}}}, "must be a probability"),
        ({"models": {"m": {"ttfa": 1}}}, "unknown setting 'ttfa'"),
        ({"models": {"m": {"reject": {"418": 0.1}}}}, "use one of 401, 404, 429, 503"),
        ({"models": {"m": {"audio": {"dist": "lognormal", "median": 5, "p95": 4}}}}, "below the median"),
        ({"models": {"m": {"faults_at": {"0": "stall"}}}}, "turns count from 1"),
        ({"seeds": 1, "models": {"m": {}}}, "unknown key 'seeds'"),
    ],
)
def test_a_bad_scenario_says_what_is_wrong(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_scenario(data)


def test_a_missing_or_broken_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found.*bundled: beta.toml"):
        load_scenario(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[models.m\n")
    with pytest.raises(ConfigError, match="does not parse"):
        load_scenario(broken)
