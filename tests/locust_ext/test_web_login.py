"""--web-login's one user: from the environment only, compared in constant time, never shown."""

from __future__ import annotations

import logging

import pytest

from s2s_users.core.exceptions import ConfigError
from s2s_users.locust_ext.webui import WebLogin, web_login_from_env

ENV = {"S2S_WEB_USER": "alice", "S2S_WEB_PASSWORD": "pw-UNIT-MARKER"}


def test_the_user_and_password_come_from_the_environment_and_both_must_match() -> None:
    login = web_login_from_env(True, ENV)
    assert login == WebLogin("alice", "pw-UNIT-MARKER")
    assert login.accepts("alice", "pw-UNIT-MARKER")
    assert not login.accepts("alice", "pw-UNIT-MARKE") and not login.accepts("bob", "pw-UNIT-MARKER")
    assert not login.accepts(None, None) and not login.accepts("", "")
    assert "pw-UNIT-MARKER" not in repr(login)


@pytest.mark.parametrize("missing", ["S2S_WEB_USER", "S2S_WEB_PASSWORD"])
def test_web_login_without_a_user_or_password_is_a_config_error(missing: str) -> None:
    with pytest.raises(ConfigError, match="--web-login needs S2S_WEB_USER and S2S_WEB_PASSWORD"):
        web_login_from_env(True, {**ENV, missing: ""})


def test_a_password_without_web_login_warns_that_the_ui_is_open(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="s2s_users"):
        assert web_login_from_env(False, ENV) is None
    assert "S2S_WEB_PASSWORD is set but --web-login is not" in caplog.text
    assert "pw-UNIT-MARKER" not in caplog.text
