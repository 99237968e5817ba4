"""The preflight: one handshake with ``--s2s-url`` before any user starts, judged into one line naming the fix.

The I/O (one connection, then a close) is ``io/session.py``'s ``preflight``, through the session's own exception
boundary; this module says what its outcome means. What refuses the run and what only warns:

- unreachable (connection refused, no route, DNS, TLS, no answer in time) and 400/401/403/404: refused. Every
  session would fail the same way, and retrying will not change it: exit 2 (headless) or the start form refused.
- 429 and 5xx: a warning, and the run goes on. Rate limits and overload are what a load test meets and measures;
  the sessions that meet them are recorded as ``connect.rejected`` with their status, and users retry.

Messages name the target without credentials (``redact_url``) and say where a key comes from, never the key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Problem(enum.Enum):
    """Why a handshake did not complete, one layer below HTTP, or the HTTP status it got."""

    REFUSED = "connection refused"
    DNS = "name not found"
    TLS = "TLS failed"
    TIMEOUT = "no answer in time"
    UNREACHABLE = "network unreachable"
    PROXY = "proxy failed"
    BAD_URL = "not a WebSocket URL"
    HTTP_STATUS = "HTTP status"
    OTHER = "connection failed"


@dataclass(frozen=True, slots=True)
class HandshakeOutcome:
    """What one handshake came to: ``problem`` None means the server said 101 (and the probe closed with 1000)."""

    problem: Problem | None = None
    http_status: int | None = None
    detail: str = ""


class Severity(enum.Enum):
    OK = "ok"
    WARN = "warn"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Verdict:
    severity: Severity
    message: str


#: Where each protocol's key comes from (named in a 401's message; the key itself never is).
KEY_SOURCES = {
    "openai": "S2S_API_KEY or OPENAI_API_KEY (or --s2s-api-key)",
    "azure": "S2S_API_KEY, AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN (or --s2s-api-key / --azure-ad-token)",
    "gemini": "S2S_API_KEY, GEMINI_API_KEY or GOOGLE_API_KEY (or --s2s-api-key)",
}

_PROBLEM_HINTS = {
    Problem.REFUSED: "connection refused: is the server running and the port right?",
    Problem.DNS: "the host name does not resolve: check the host in --s2s-url (and your DNS or proxy)",
    Problem.TLS: "TLS failed: check wss:// against ws:// and the port; a private CA goes in SSL_CERT_FILE",
    Problem.TIMEOUT: "no answer in time: is the host reachable from here (firewall, proxy: HTTPS_PROXY)?",
    Problem.UNREACHABLE: "the network is unreachable from here: check the host, the route, HTTPS_PROXY",
    Problem.PROXY: "the proxy failed: check HTTPS_PROXY / NO_PROXY",
    Problem.BAD_URL: "not a WebSocket URL: use ws://HOST:PORT/PATH or wss://HOST/PATH",
    Problem.OTHER: "cannot connect",
}

#: Handshake answers that retrying will not change: the run is refused.
_REFUSING_STATUSES = frozenset({400, 401, 403, 404, 405, 426})


_STATUS_NAMES = {401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found", 429: "429 Too Many Requests"}


def status_advice(status: int, protocol: str = "openai") -> str:
    """What an HTTP status at the handshake means and what to do (the one table: the preflight and sessions)."""
    if status == 401:
        return f"the API key was refused: check {KEY_SOURCES.get(protocol, KEY_SOURCES['openai'])}"
    if status == 403:
        return "the key has no access to this model or endpoint: check the key's project and --s2s-model"
    if status == 404:
        return "no realtime endpoint or model there: check the path of --s2s-url and --s2s-model"
    if status == 429:
        return "rate limited: lower -u / -r, or ask the provider for more concurrent sessions"
    if status >= 500:
        return "server error"
    return "the server refused the session: check --s2s-url, --s2s-model and the key"


def status_hint(status: int, protocol: str = "openai") -> str:
    """``401 Unauthorized: the API key was refused: ...``."""
    return f"{_STATUS_NAMES.get(status, f'HTTP {status}')}: {status_advice(status, protocol)}"


def hint(outcome: HandshakeOutcome, protocol: str = "openai") -> str:
    """What the outcome means and what to do, without the URL."""
    if outcome.problem is Problem.HTTP_STATUS and outcome.http_status is not None:
        return status_hint(outcome.http_status, protocol)
    if outcome.problem is None:
        return "the handshake succeeded"
    text = _PROBLEM_HINTS[outcome.problem]
    return f"{text}: {outcome.detail}" if outcome.problem is Problem.OTHER and outcome.detail else text


def explain(outcome: HandshakeOutcome, url: str, protocol: str = "openai") -> str:
    """One line: the URL (without credentials: the caller redacts it), what happened, the fix."""
    return f"--s2s-url {url}: {hint(outcome, protocol)}"


def judge(outcome: HandshakeOutcome, url: str, protocol: str = "openai") -> Verdict:
    """Whether the run may start against ``url``, and the one line that says why not (or what to expect)."""
    if outcome.problem is None:
        return Verdict(Severity.OK, explain(outcome, url, protocol))
    status = outcome.http_status
    if outcome.problem is Problem.HTTP_STATUS and status is not None and status not in _REFUSING_STATUSES:
        if status == 429 or status >= 500:
            message = f"{explain(outcome, url, protocol)}; starting anyway: sessions that meet it are connect.rejected"
            return Verdict(Severity.WARN, message)
    return Verdict(Severity.REFUSE, explain(outcome, url, protocol))
