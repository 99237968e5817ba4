"""The preflight's judgement: which handshake outcomes refuse a run, which only warn, and the one line for each."""

from __future__ import annotations

import pytest

from s2s_users.core.preflight import HandshakeOutcome, Problem, Severity, judge

URL = "ws://127.0.0.1:9/v1/realtime"


def status(code: int) -> HandshakeOutcome:
    return HandshakeOutcome(Problem.HTTP_STATUS, code)


@pytest.mark.parametrize(
    ("outcome", "protocol", "line"),
    [
        (HandshakeOutcome(Problem.REFUSED, None, "[Errno 111] Connection refused"), "openai",
         f"--s2s-url {URL}: connection refused: is the server running and the port right?"),
        (HandshakeOutcome(Problem.DNS), "openai", "the host name does not resolve"),
        (HandshakeOutcome(Problem.TLS), "openai", "TLS failed: check wss:// against ws://"),
        (HandshakeOutcome(Problem.TIMEOUT), "openai", "no answer in time"),
        (HandshakeOutcome(Problem.BAD_URL), "openai", "not a WebSocket URL"),
        (HandshakeOutcome(Problem.OTHER, None, "did not receive a valid HTTP response"), "openai",
         "cannot connect: did not receive a valid HTTP response"),
        (status(401), "openai", "401 Unauthorized: the API key was refused: check S2S_API_KEY or OPENAI_API_KEY"),
        (status(401), "azure", "check S2S_API_KEY, AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN"),
        (status(401), "gemini", "check S2S_API_KEY, GEMINI_API_KEY or GOOGLE_API_KEY"),
        (status(403), "openai", "403 Forbidden"),
        (status(404), "openai", "404 Not Found: no realtime endpoint or model there"),
        (status(400), "openai", "HTTP 400: the server refused the session"),
    ],
)  # fmt: skip
def test_a_target_that_cannot_work_refuses_the_run_with_one_line(
    outcome: HandshakeOutcome, protocol: str, line: str
) -> None:
    verdict = judge(outcome, URL, protocol)
    assert verdict.severity is Severity.REFUSE
    assert verdict.message.startswith(f"--s2s-url {URL}: ") and line in verdict.message
    assert "\n" not in verdict.message


@pytest.mark.parametrize("code", [429, 500, 503])
def test_rate_limits_and_server_errors_only_warn_a_load_test_meets_them(code: int) -> None:
    verdict = judge(status(code), URL)
    assert verdict.severity is Severity.WARN
    assert f"{code}" in verdict.message and "starting anyway" in verdict.message


def test_a_handshake_that_succeeds_lets_the_run_start() -> None:
    assert judge(HandshakeOutcome(), URL).severity is Severity.OK
