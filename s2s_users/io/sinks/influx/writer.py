"""One HTTP write of line protocol through ``influxdb-client``, failures sorted; and the start-up probe.

The v2 write API serves InfluxDB 2.x, 3.x and 1.8+ (``db/rp`` as bucket, ``user:password`` as token). Failures
are sorted into *retry later* (unreachable, timeout, 5xx, 429, and 401/403/404 mid-run) and *rejected* (other
4xx). This is the one place where the library's exceptions become ours. The token is never printed, logged or
put in a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.redact import redact_url
from s2s_users.io.sinks.influx.points import PROBE_MEASUREMENT, Fields, LinePoint, series
from s2s_users.io.sinks.influx.settings import ENV_TOKEN, ENV_URL, InfluxSettings

log = logging.getLogger(__name__)


RETRY = "retry"  # InfluxDB unreachable, slow or overloaded: spool and try again later
REJECT = "reject"  # InfluxDB refused these points for good (malformed, type conflict): keep aside


class WriteFailed(Exception):
    """A write did not go through. ``kind`` is RETRY or REJECT; ``status`` the HTTP status if any."""

    def __init__(
        self,
        kind: str,
        status: int | None,
        reason: str,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s


class InfluxWriter:
    """Synchronous line-protocol writes with explicit ns precision through ``influxdb-client``."""

    def __init__(self, url: str, token: str, org: str, bucket: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self.bucket = bucket
        self._token = token
        self._org = org or "-"
        self._timeout_s = timeout_s
        self._client = InfluxDBClient(
            url=url, token=token, org=self._org, timeout=int(timeout_s * 1000), enable_gzip=False
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: Sequence[str], timeout_s: float | None = None) -> None:
        """Post ``lines`` in one request; raises ``WriteFailed``."""
        if not lines:
            return
        limit = self._timeout_s if timeout_s is None else max(0.1, min(timeout_s, self._timeout_s))
        try:
            self._api.write(
                bucket=self.bucket,
                org=self._org,
                record="\n".join(lines).encode("utf-8"),
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]
                _request_timeout=limit,
            )
        except Exception as error:  # noqa: BLE001 - every library error is sorted here, in one place
            raise self._sort(error) from error

    def _sort(self, error: Exception) -> WriteFailed:
        status = getattr(error, "status", None)
        if isinstance(status, int) and status > 0:
            reason = f"HTTP {status}: {self.scrub(_server_message(error))}"
            retry_after = _seconds(getattr(error, "retry_after", None))
            kind = RETRY if status in (401, 403, 404, 408, 429) or status >= 500 else REJECT
            return WriteFailed(kind, status, reason, retry_after)
        return WriteFailed(RETRY, None, self.scrub(_describe_transport_error(error)))

    def scrub(self, text: str) -> str:
        """``text`` with the token (and a 1.8 token's password) blanked out: servers may echo it."""
        secrets = [self._token, self._token.partition(":")[2]]
        for secret in sorted(secrets, key=len, reverse=True):
            if len(secret) >= 6:  # shorter ones would mangle ordinary words and cannot be told apart
                text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        try:
            self._api.close()  # type: ignore[no-untyped-call]
        finally:
            self._client.close()  # type: ignore[no-untyped-call]


def _server_message(error: Exception) -> str:
    body = getattr(error, "body", None)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    message = getattr(error, "message", None)
    if isinstance(message, str) and message and message != "no response":
        text = message
    text = " ".join(text.split())
    if not text:
        text = str(getattr(error, "reason", "") or "no message")
    return text[:300]


def _describe_transport_error(error: BaseException) -> str:
    # urllib3 wraps the socket error (ConnectionRefused, timeout) a level or two down; name the innermost.
    seen: BaseException = error
    for _ in range(5):
        inner = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if not isinstance(inner, BaseException):
            break
        seen = inner
    text = " ".join(str(seen).split()) or type(seen).__name__
    if "refused" in text.lower():
        return "connection refused"
    if "timed out" in text.lower() or "timeout" in type(seen).__name__.lower():
        return "timed out"
    return f"{type(seen).__name__}: {text}"[:300]


def _seconds(value: object) -> float | None:
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


# --- start-up check ---------------------------------------------------------------------------------------


def check_connection(settings: InfluxSettings, *, run_id: str = "", worker: str = "") -> str | None:
    """Write one ``s2s_probe`` point; raise a one-line ``ConfigError`` for 401/403, 404 or another 4xx.

    No server (refused, unreachable, timed out), a 5xx or a 429 at start-up is only a warning: the sink spools
    until InfluxDB answers, and what is left at the end can be replayed. Returns that warning (None: it answered).
    """
    if not settings.url.startswith(("http://", "https://")):
        raise ConfigError(f"--influx-url {redact_url(settings.url)!r} must start with http:// or https://")
    if not settings.bucket:
        raise ConfigError("--influx-bucket (S2S_INFLUX_BUCKET) is required with --influx-url")
    writer = InfluxWriter(
        settings.url,
        settings.token,
        settings.org,
        settings.bucket,
        settings.request_timeout_s,
    )
    fields = Fields()
    fields.integer("ok", 1)
    probe_series = series(PROBE_MEASUREMENT, {"run_id": run_id, "worker": worker})
    probe = LinePoint(probe_series, fields.render(), time.time_ns())
    try:
        writer.write([probe.line()])
    except WriteFailed as failure:
        where = f"InfluxDB at {redact_url(settings.url)}"
        if failure.status in (401, 403):
            raise ConfigError(
                f"{where} refused the token ({failure.reason}): check --influx-token / {ENV_TOKEN}"
                " (InfluxDB 1.8: user:password) and that it may write to the bucket"
            ) from None
        if failure.status == 404:
            raise ConfigError(
                f"{where} has no bucket {settings.bucket!r} in org {settings.org!r} ({failure.reason}):"
                f" create it (InfluxDB 2/3: influx bucket create -n {settings.bucket}; 1.x: CREATE DATABASE"
                f" {settings.bucket.split('/')[0]}) or fix --influx-bucket / --influx-org"
            ) from None
        if failure.kind == REJECT and failure.status is not None:
            raise ConfigError(f"{where} rejected a test point ({failure.reason})") from None
        # Down, unreachable or overloaded: nothing is lost (the spool keeps every point for a replay), and a soak
        # must not fail to start because its dashboard database restarts. One clear warning, and the run goes on.
        warning = (
            f"cannot reach {where} at start-up ({failure.reason}): points will be spooled in"
            f" {settings.spool_dir.parent} and written when it answers (or later: python -m s2s_users replay DIR);"
            f" if the URL is wrong, fix --influx-url / {ENV_URL}"
        )
        log.warning("influx: %s", warning)
        return warning
    finally:
        writer.close()
    return None
