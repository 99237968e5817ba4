"""The start form's fields for our options: secrets served empty, names as Locust posts them, typed values."""

from __future__ import annotations

from typing import Any

import pytest

from s2s_users.core.exceptions import ConfigError
from s2s_users.locust_ext.options import OPTIONS, SECRET_OPTIONS
from s2s_users.locust_ext.webform import form_values, hide_secrets, is_ours

STARTED_WITH: dict[str, Any] = {option.dest: option.default for option in OPTIONS} | {
    "s2s_api_key": "sk-server-side",
    "run_id": "run-minted-at-start",
    "turns": 12,
}


def test_secret_options_are_served_with_an_empty_field_and_others_keep_their_value() -> None:
    extra = {
        "s2s_api_key": {"default_value": "sk-leak", "is_secret": True},
        "influx_token": {"default_value": "user:pw-leak", "is_secret": True},
        "turns": {"default_value": 60, "is_secret": False},
    }
    hide_secrets(extra)
    assert extra["s2s_api_key"]["default_value"] == "" and extra["influx_token"]["default_value"] == ""
    assert extra["s2s_api_key"]["is_secret"] is True
    assert extra["turns"]["default_value"] == 60
    assert {"s2s_api_key", "influx_token"} <= SECRET_OPTIONS


def test_fields_are_matched_under_the_names_locusts_form_really_posts() -> None:
    # Locust's form posts s2s_api_key as s_2s_api_key and check_ttfa_p95_ms as check_ttfa_p9_5ms.
    values = form_values(
        [("s_2s_api_key", "sk-typed"), ("check_ttfa_p9_5ms", "1500"), ("s_2s_model", "gpt-realtime")],
        STARTED_WITH,
    )
    assert values == {"s2s_api_key": "sk-typed", "check_ttfa_p95_ms": 1500.0, "s2s_model": "gpt-realtime"}
    assert is_ours("s_2s_url") and is_ours("turns") and not is_ours("user_count") and not is_ours("host")


def test_an_empty_field_keeps_the_value_the_process_started_with() -> None:
    form = [("s_2s_api_key", ""), ("run_id", ""), ("turns", "  "), ("check_min_capacity_minutes", "")]
    assert form_values(form, STARTED_WITH) == {
        "s2s_api_key": "sk-server-side",
        "run_id": "run-minted-at-start",
        "turns": 12,
        "check_min_capacity_minutes": None,
    }


def test_typed_values_get_the_options_type() -> None:
    values = form_values([("turns", "5"), ("think_time", "0.5"), ("turn_mode", "server_vad")], STARTED_WITH)
    assert values == {"turns": 5, "think_time": 0.5, "turn_mode": "server_vad"}


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("turns", "abc", "--turns 'abc' is not a whole number or until-failure"),
        ("think_time", "soon", "--think-time 'soon' is not a number"),
        ("carrier", "radio", "--carrier 'radio' is not valid: use silence or noise or off"),
        ("check_ttfa_p9_5ms", "fast", "--check-ttfa-p95-ms 'fast' is not a number"),
    ],
)
def test_a_bad_value_is_a_one_line_error_naming_the_option(field: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        form_values([(field, text)], STARTED_WITH)
    assert str(info.value) == message


def test_options_that_are_not_in_the_form_are_never_taken_from_it() -> None:
    assert form_values([("report_dir", "/tmp/elsewhere"), ("user_count", "3")], STARTED_WITH) == {}


def test_locusts_own_users_and_rate_are_read_from_the_form_for_the_shape_check() -> None:
    from s2s_users.locust_ext.webui import locust_values

    assert locust_values({"user_count": "8", "spawn_rate": "2.5", "host": "x"}) == {"num_users": 8, "spawn_rate": 2.5}
    assert locust_values({"user_count": "many"}) == {}  # Locust refuses it with its own message


def test_the_provider_options_are_typed_and_the_entra_token_is_a_secret() -> None:
    assert "azure_ad_token" in SECRET_OPTIONS
    values = form_values([("s2sProtocol", "gemini"), ("geminiResume", "true"), ("azureAdToken", "")], STARTED_WITH)
    assert values == {"s2s_protocol": "gemini", "gemini_resume": True, "azure_ad_token": ""}
    assert form_values([("geminiResume", "off")], STARTED_WITH) == {"gemini_resume": False}
    with pytest.raises(ConfigError, match="--gemini-resume 'maybe' is not true or false"):
        form_values([("geminiResume", "maybe")], STARTED_WITH)
    with pytest.raises(ConfigError, match="--s2s-protocol 'vertex' is not valid"):
        form_values([("s2sProtocol", "vertex")], STARTED_WITH)
