"""Run settings from Locust options: defaults work, bad values are one-line errors, keys stay secret."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from s2s_users.core.config import resolve_api_key, settings_from_options
from s2s_users.core.exceptions import ConfigError


def options(**overrides: object) -> argparse.Namespace:
    values: dict[str, object] = dict(
        s2s_url="",
        s2s_model="gpt-realtime,gpt-realtime-2",
        s2s_api_key="",
        s2s_voice="marin",
        s2s_instructions="Be brief.",
        turn_mode="manual",
        turns=60,
        sessions_per_user=0,
        s2s_pace="realtime",
        chunk_ms=20,
        think_time=1.0,
        turn_timeout=30.0,
        prompts="",
        report_dir="",
        mock_time_scale=1.0,
        silence_floor_dbfs=-50.0,
        vad_silence_ms=800,
        run_id="",
        scenario="default",
    )
    values.update(overrides)
    return argparse.Namespace(**values)


def test_defaults_target_the_embedded_mock_with_its_own_key() -> None:
    settings = settings_from_options(options(), mock_key="mock-key")
    assert settings.embedded_mock and settings.api_key == "mock-key"
    assert settings.models == ("gpt-realtime", "gpt-realtime-2")
    assert settings.report_dir == Path("runs") / settings.run_id


def test_the_key_never_shows_in_the_settings_repr() -> None:
    settings = settings_from_options(options(s2s_api_key="sk-very-secret"), mock_key="m")
    assert "sk-very-secret" not in repr(settings)


def test_a_real_url_takes_the_key_from_openai_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert resolve_api_key(None, "wss://api.openai.com/v1/realtime", "m") == "sk-env"
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-env")
    assert resolve_api_key(None, "wss://r.openai.azure.com/openai/v1/realtime", "m") == "az-env"


def test_a_real_url_without_a_key_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="set OPENAI_API_KEY"):
        settings_from_options(options(s2s_url="wss://api.openai.com/v1/realtime"), mock_key="m")


@pytest.mark.parametrize(
    ("override", "mentions"),
    [
        ({"s2s_model": " , "}, "--s2s-model"),
        ({"turn_mode": "push_to_talk"}, "--turn-mode"),
        ({"turns": 0}, "--turns"),
        ({"sessions_per_user": -1}, "--sessions-per-user"),
        ({"s2s_pace": "fast"}, "--s2s-pace"),
        ({"think_time": -1.0}, "--think-time"),
        ({"turn_timeout": 0.0}, "--turn-timeout"),
        ({"mock_time_scale": 0.0}, "--mock-time-scale"),
        ({"s2s_url": "https://api.openai.com/v1/realtime"}, "--s2s-url"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_option(override: dict[str, object], mentions: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_options(options(**override), mock_key="m")
    assert mentions in str(info.value) and "\n" not in str(info.value)


def test_a_url_that_is_refused_at_start_up_is_shown_without_its_key() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_options(options(s2s_url="https://x.example/?key=sk-in-the-url"), mock_key="m")
    assert "is not a WebSocket URL" in str(info.value) and "sk-in-the-url" not in str(info.value)


def test_users_can_be_split_between_both_turn_modes() -> None:
    settings = settings_from_options(options(turn_mode="manual, server_vad"), mock_key="m")
    assert settings.turn_modes == ("manual", "server_vad") and settings.turn_mode == "manual,server_vad"
    assert settings.engine_settings(24_000, "server_vad").turn_mode == "server_vad"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"turn_mode": "manual,push"}, "--turn-mode 'push' is not valid"),
        ({"carrier": "radio"}, "--carrier 'radio' is not valid"),
        ({"barge_in_after": 0.0}, "--barge-in-after 0 is out of range"),
        ({"barge_in_share": 1.5}, "--barge-in-share 1.5 is out of range"),
    ],
)
def test_turn_taking_options_are_checked(override: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_options(options(**override), mock_key="m")


def _clear_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_the_protocol_comes_from_the_option_or_the_url_with_its_voice_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_keys(monkeypatch)
    monkeypatch.setenv("GOOGLE_API_KEY", "g-env")
    gemini_url = "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService."
    gemini = settings_from_options(options(s2s_url=gemini_url + "BidiGenerateContent", s2s_voice=""), mock_key="m")
    assert (gemini.protocol, gemini.api_key, gemini.voice) == ("gemini", "g-env", "Puck")
    assert gemini.engine_settings(24_000, "manual").session_cap_s is None
    mock = settings_from_options(options(s2s_protocol="gemini", gemini_resume=True), mock_key="m")
    assert (mock.protocol, mock.api_key, mock.gemini_resume) == ("gemini", "m", True)
    assert mock.gemini_settings("g", "manual").resume is True
    vad = settings_from_options(options(s2s_protocol="gemini", turn_mode="server_vad"), mock_key="m")
    assert vad.gemini_settings("g", "server_vad").turn_mode == "server_vad"


def test_azure_takes_its_key_or_an_entra_token_and_caps_sessions_at_30_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_keys(monkeypatch)
    url = "wss://res.services.ai.azure.com/voice-live/realtime"
    with pytest.raises(ConfigError, match="set AZURE_OPENAI_API_KEY"):
        settings_from_options(options(s2s_url=url), mock_key="m")
    token = settings_from_options(options(s2s_url=url, azure_ad_token="entra-secret"), mock_key="m")
    assert (token.protocol, token.api_key, token.azure_ad_token) == ("azure", "", "entra-secret")
    assert "entra-secret" not in repr(token)
    assert token.engine_settings(24_000, "manual").session_cap_s == 1800.0
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-env")
    assert settings_from_options(options(s2s_url=url), mock_key="m").api_key == "az-env"


def test_a_gemini_url_with_its_key_needs_no_other_and_errors_never_show_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_keys(monkeypatch)
    url = "ws://127.0.0.1:9/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    assert settings_from_options(options(s2s_url=url + "?key=in-url"), mock_key="m").api_key == ""
    with pytest.raises(ConfigError) as info:
        settings_from_options(options(s2s_url=url + "?token=secret-token"), mock_key="m")
    assert "GEMINI_API_KEY or GOOGLE_API_KEY" in str(info.value) and "secret-token" not in str(info.value)
    with pytest.raises(ConfigError, match="--s2s-protocol"):
        settings_from_options(options(s2s_protocol="vertex"), mock_key="m")


def test_an_ab_run_rotates_only_its_rotated_arm_and_warns_at_a_share_of_the_expected_capacity() -> None:
    settings = settings_from_options(
        options(ab_rotate_after=240, expected_capacity="gpt-realtime-2=5m", warn_at=0.5), mock_key="m"
    )
    assert settings.arms == ("control", "rotated")
    rotated = settings.engine_settings(24_000, "manual", "gpt-realtime-2", "rotated")
    control = settings.engine_settings(24_000, "manual", "gpt-realtime-2", "control")
    assert rotated.rotation.after_audio_s == 240 and not control.rotation.enabled
    assert rotated.warn_at_audio_s == control.warn_at_audio_s == 150.0
    # A model without an expected capacity is warned at the capacity the run learned, if any.
    assert settings.engine_settings(24_000, "manual", "gpt-realtime", "control").warn_at_audio_s is None
    assert settings.engine_settings(24_000, "manual", "gpt-realtime", "", capacity_s=100.0).warn_at_audio_s == 50.0


def test_a_model_without_a_price_is_not_estimated_unless_a_budget_needs_it() -> None:
    real = {"s2s_url": "wss://api.example/v1/realtime", "s2s_api_key": "k", "s2s_model": "my-azure-deployment"}
    settings = settings_from_options(options(**real), mock_key="m")
    assert settings.engine_settings(24_000, "manual", "my-azure-deployment").prices is None
    assert settings.budget.prices.unpriced(settings.models) == ["my-azure-deployment"]


def test_the_embedded_mocks_own_models_are_priced_as_gpt_realtime() -> None:
    settings = settings_from_options(options(s2s_model="m-barge"), mock_key="m")
    assert settings.engine_settings(24_000, "manual", "m-barge").prices.audio_out == 64.0
    assert "other models as gpt-realtime (the embedded mock)" in settings.budget.prices.source


def test_a_price_file_replaces_the_built_in_prices(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    fields = "audio_in = 1\naudio_cached = 0\naudio_out = 2\ntext_in = 1\ntext_cached = 0\ntext_out = 2\n"
    prices.write_text(f'["gpt-realtime"]\n{fields}')
    settings = settings_from_options(options(prices=str(prices), max_cost=1.5), mock_key="m")
    assert settings.budget.max_cost_usd == 1.5
    assert settings.engine_settings(24_000, "manual", "gpt-realtime-2").prices.audio_out == 2.0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"rotate_after": 240, "ab_rotate_after": 240}, "--rotate-after and --ab-rotate-after both given"),
        ({"rotate_after_turns": -1}, "--rotate-after-turns -1 is out of range"),
        ({"summary_chars": -5}, "--summary-chars -5 is out of range"),
        ({"max_cost": 0.0}, "--max-cost 0 is out of range"),
        ({"warn_at": 1.5}, "--warn-at 1.5 is out of range"),
        ({"expected_capacity": "gpt-4=5m"}, "'gpt-4' is not one of the run's models"),
        ({"expected_capacity": "soon"}, "give assistant audio as 300, 300s or 5m"),
        ({"prices": "/nonexistent/prices.toml"}, "--prices /nonexistent/prices.toml: cannot be read"),
        (
            {"s2s_model": "clone", "s2s_url": "wss://api.example/v1/realtime", "s2s_api_key": "k", "max_cost": 1.0},
            "no price for model .clone.",
        ),
    ],
)
def test_mitigation_and_budget_options_are_checked_in_one_line(override: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        settings_from_options(options(**override), mock_key="m")
    assert "\n" not in str(info.value)


def test_turns_until_failure_takes_its_safety_bounds_from_their_options() -> None:
    settings = settings_from_options(
        options(turns="until-failure", max_session_minutes=2.5, max_session_turns=40), mock_key="m"
    )
    engine = settings.engine_settings(24_000, "manual")
    assert settings.until_failure and engine.until_failure
    assert engine.turns == 40 and engine.max_session_s == 150.0
    assert not settings_from_options(options(), mock_key="m").engine_settings(24_000, "manual").until_failure


@pytest.mark.parametrize(
    ("override", "mentions"),
    [
        ({"turns": "until-never"}, "--turns"),
        ({"turns": "until-failure", "max_session_minutes": 0.0}, "--max-session-minutes"),
        ({"turns": "until-failure", "max_session_turns": -1}, "--max-session-turns"),
        ({"record_audio": "some"}, "--record-audio"),
        ({"record_audio_max_mb": -1.0}, "--record-audio-max-mb"),
    ],
)
def test_bad_evidence_and_bound_options_are_one_line_errors(override: dict[str, object], mentions: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_options(options(**override), mock_key="m")
    assert mentions in str(info.value) and "\n" not in str(info.value)


def test_the_embedded_mock_never_gets_a_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    assert settings_from_options(options(s2s_api_key="sk-real-explicit"), mock_key="mock-key").api_key == "mock-key"
