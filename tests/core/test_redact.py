"""URLs shown to people lose their secrets: user-info passwords and key-like query parameters."""

from __future__ import annotations

import pytest

from s2s_users.core.redact import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("wss://api.openai.com/v1/realtime?model=gpt-realtime", "wss://api.openai.com/v1/realtime?model=gpt-realtime"),
        ("wss://g.example/ws?key=AIzaSECRET&alt=json", "wss://g.example/ws?key=***&alt=json"),
        ("wss://x.example/?api-key=SECRET&model=m", "wss://x.example/?api-key=***&model=m"),
        ("wss://x.example/?Access_Token=SECRET", "wss://x.example/?Access_Token=***"),
        ("http://admin:SECRET@influx:8086/", "http://admin:***@influx:8086/"),
        ("http://SECRETTOKEN@influx:8086", "http://***@influx:8086"),
        ("ws://127.0.0.1:8765/v1/realtime", "ws://127.0.0.1:8765/v1/realtime"),
    ],
)
def test_a_url_keeps_everything_but_its_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "SECRET" not in redact_url(url)


def test_a_url_that_cannot_be_parsed_is_not_shown_at_all() -> None:
    assert redact_url("wss://[::1/?key=SECRET") == "***"
