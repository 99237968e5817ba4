"""Every option can be set from locust.conf and from its ``S2S_*`` environment variable, through Locust's own
parser (ConfigArgParse), and ``locust.conf.example`` holds only options that exist."""

from __future__ import annotations

from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments

import os
from pathlib import Path
from typing import Any

import pytest

from s2s_users.core.exceptions import ConfigError
from s2s_users.locust_ext.options import OPTIONS, Option, add_options

ROOT = Path(__file__).resolve().parents[2]

#: A value for each option that differs from its default, as text (what a file or a variable holds), and typed.
SAMPLES: dict[str, tuple[str, Any]] = {
    "--s2s-url": ("wss://api.example/v1/realtime", "wss://api.example/v1/realtime"),
    "--s2s-model": ("gpt-realtime:3,gpt-realtime-2:1", "gpt-realtime:3,gpt-realtime-2:1"),
    "--s2s-protocol": ("azure", "azure"),
    "--s2s-api-key": ("sk-sample", "sk-sample"),
    "--azure-ad-token": ("entra-sample", "entra-sample"),
    "--gemini-resume": ("true", True),
    "--s2s-voice": ("cedar", "cedar"),
    "--s2s-instructions": ("Be brief.", "Be brief."),
    "--turn-mode": ("manual,server_vad", "manual,server_vad"),
    "--carrier": ("noise", "noise"),
    "--barge-in-after": ("1.5", 1.5),
    "--barge-in-share": ("0.3", 0.3),
    "--rotate-after": ("4m", 240),
    "--rotate-after-turns": ("12", 12),
    "--ab-rotate-after": ("3m", 180),
    "--summary-chars": ("800", 800),
    "--reconnect-on-cap": ("true", True),
    "--expected-capacity": ("gpt-realtime-2=5m", "gpt-realtime-2=5m"),
    "--warn-at": ("0.7", 0.7),
    "--prices": ("prices.toml", "prices.toml"),
    "--max-cost": ("2.5", 2.5),
    "--turns": ("7", 7),
    "--max-session-minutes": ("30", 30.0),
    "--max-session-turns": ("500", 500),
    "--record-audio": ("all", "all"),
    "--record-audio-max-mb": ("50", 50.0),
    "--sessions-per-user": ("2", 2),
    "--s2s-pace": ("4", "4"),
    "--chunk-ms": ("40", 40),
    "--think-time": ("0.5", 0.5),
    "--turn-timeout": ("12.5", 12.5),
    "--prompts": ("/data/prompts", "/data/prompts"),
    "--report-dir": ("/data/runs/x", "/data/runs/x"),
    "--mock-time-scale": ("10", 10.0),
    "--mock-scenario": ("flaky.toml", "flaky.toml"),
    "--silence-floor-dbfs": ("-40", -40.0),
    "--vad-silence-ms": ("500", 500),
    "--run-id": ("soak-1", "soak-1"),
    "--scenario": ("nightly", "nightly"),
    "--influx-url": ("http://influx:8086", "http://influx:8086"),
    "--influx-token": ("tok", "tok"),
    "--influx-org": ("org", "org"),
    "--influx-bucket": ("b", "b"),
    "--check-silent-failure-rate": ("0.1", 0.1),
    "--check-min-capacity-minutes": ("4.5", 4.5),
    "--check-ttfa-p95-ms": ("1500", 1500.0),
    "--max-lost-sessions": ("3", 3),
    "--shape": ("steps", "steps"),
    "--shape-ramp": ("5m", 300),
    "--shape-hold": ("2h", 7200),
    "--shape-steps": ("6", 6),
    "--shape-base-users": ("3", 3),
}


def parse(args: list[str], config_files: list[str]) -> Any:
    parser = get_empty_argument_parser(default_config_files=config_files)
    setup_parser_arguments(parser)
    add_options(parser)
    return parser.parse_args(["-f", "locustfiles/endurance.py", *args])


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("S2S_") or name.startswith("LOCUST_"):
            monkeypatch.delenv(name)


def test_every_option_has_a_sample_and_a_distinct_variable() -> None:
    assert set(SAMPLES) == {option.flag for option in OPTIONS}
    variables = [option.env_var for option in OPTIONS]
    assert len(set(variables)) == len(variables) and all(v.startswith("S2S_") for v in variables)
    by_flag = {option.flag: option for option in OPTIONS}
    assert by_flag["--s2s-url"].env_var == "S2S_URL" and by_flag["--turns"].env_var == "S2S_TURNS"
    assert by_flag["--influx-token"].env_var == "S2S_INFLUX_TOKEN"  # the names the README and compose use


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.flag)
def test_each_option_is_read_from_its_environment_variable(option: Option, monkeypatch: pytest.MonkeyPatch) -> None:
    text, typed = SAMPLES[option.flag]
    assert parse([], []).__dict__[option.dest] == option.default
    monkeypatch.setenv(option.env_var, text)
    assert parse([], []).__dict__[option.dest] == typed


@pytest.mark.usefixtures("clean_environment")
def test_every_option_is_read_from_locust_conf_and_the_command_line_wins(tmp_path: Path) -> None:
    conf = tmp_path / "locust.conf"
    conf.write_text("".join(f"{flag.removeprefix('--')} = {text}\n" for flag, (text, _) in SAMPLES.items()))
    parsed = parse([], [str(conf)])
    for option in OPTIONS:
        assert getattr(parsed, option.dest) == SAMPLES[option.flag][1], option.flag
    assert parse(["--turns", "9"], [str(conf)]).turns == 9


@pytest.mark.usefixtures("clean_environment")
def test_the_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "locust.conf"
    conf.write_text("turns = 5\n")
    monkeypatch.setenv("S2S_TURNS", "6")
    assert parse([], [str(conf)]).turns == 6


@pytest.mark.usefixtures("clean_environment")
def test_the_example_locust_conf_sets_only_real_options_and_parses() -> None:
    example = ROOT / "locust.conf.example"
    keys = [
        line.split("=", 1)[0].strip()
        for line in example.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    ours = {option.flag.removeprefix("--") for option in OPTIONS}
    assert keys and {key for key in keys if key in ours}, "the example sets some of our options"
    parsed = parse([], [str(example)])
    assert parsed.headless is True and parsed.shape == "ramp-and-hold" and parsed.check_min_capacity_minutes == 4.5


def test_turns_take_a_number_or_until_failure_from_the_command_line_and_the_start_form() -> None:
    assert parse(["--turns", "until-failure"], []).turns == "until-failure"
    assert parse(["--turns", "12"], []).turns == 12
    by_flag = {option.flag: option for option in OPTIONS}
    assert by_flag["--turns"].parse(" until-failure ") == "until-failure"
    with pytest.raises(ConfigError, match="--turns 'until-never' is not a whole number or until-failure"):
        by_flag["--turns"].parse("until-never")
