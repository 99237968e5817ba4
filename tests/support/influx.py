"""A real InfluxDB for tests: Debian's ``influxd`` (1.6) behind an nginx that speaks the v2 write API.

influxd 1.6 has ``/write`` and ``/query`` but no ``/api/v2/write``. nginx maps
``/api/v2/write?bucket=B&precision=ns`` to ``/write?db=B&precision=n`` and turns the 1.8-style
``Authorization: Token user:password`` into ``u=``/``p=`` query parameters, so the real client, the real line
protocol and the real storage are exercised, authentication included (influxd runs with ``auth-enabled``, as
InfluxDB 1.8 with a ``user:password`` token would). Everything listens on free 127.0.0.1 ports and lives under
one temporary folder. ``stop_influx()``/``start_influx()`` restart influxd on the same data and port (the
fault tests); nginx stays up and answers 502 meanwhile, as a proxy in front of a dead database would.

Missing binaries fail loudly: ``apt-get install influxdb nginx-light``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTALL_HINT = "apt-get install influxdb nginx-light"
USER = "s2sadmin"
PASSWORD = "s2s-secret-pw"


class ServiceError(RuntimeError):
    """influxd or nginx did not start (or is not installed)."""


def find_binary(name: str, *candidates: str) -> str:
    found = shutil.which(name) or next((path for path in candidates if os.access(path, os.X_OK)), None)
    if found is None:
        raise ServiceError(f"{name} is not installed: the InfluxDB sink tests need it ({INSTALL_HINT})")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, timeout_s: float, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{url} died at start (exit {process.returncode}): {_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 300:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise ServiceError(f"{url} did not answer within {timeout_s:.0f} s: {_tail(log)}")


def _tail(path: Path) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-8:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class InfluxService:
    """influxd + nginx under ``root``. ``url``/``token`` are what the sink is given."""

    root: Path
    influx_port: int = field(default_factory=free_port)
    rpc_port: int = field(default_factory=free_port)
    proxy_port: int = field(default_factory=free_port)
    influxd: subprocess.Popen[bytes] | None = None
    nginx: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def token(self) -> str:
        return f"{USER}:{PASSWORD}"

    @property
    def influx_url(self) -> str:
        return f"http://127.0.0.1:{self.influx_port}"

    # --- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._influxd_bin = find_binary("influxd", "/usr/bin/influxd")
        self._nginx_bin = find_binary("nginx", "/usr/sbin/nginx")
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_influx_config()
        self.start_influx()
        self._create_admin()
        self._write_nginx_config()
        self._start_nginx()

    def stop(self) -> None:
        _stop(self.nginx)
        _stop(self.influxd)

    def start_influx(self) -> None:
        if self.influxd is not None and self.influxd.poll() is None:
            return
        log = (self.root / "influxd.log").open("ab")
        env = {key: value for key, value in os.environ.items() if not key.startswith("INFLUXDB_")}
        self.influxd = subprocess.Popen(
            [self._influxd_bin, "run", "-config", str(self.root / "influxdb.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        _wait_http(f"{self.influx_url}/ping", 60, self.influxd, self.root / "influxd.log")

    def stop_influx(self) -> None:
        _stop(self.influxd)

    def _write_influx_config(self) -> None:
        data = self.root / "influx"
        (self.root / "influxdb.conf").write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"

[meta]
  dir = "{data / "meta"}"

[data]
  dir = "{data / "data"}"
  wal-dir = "{data / "wal"}"
  query-log-enabled = false

[retention]
  enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{self.influx_port}"
  auth-enabled = true
  log-enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false

[logging]
  level = "warn"
"""
        )

    def _create_admin(self) -> None:
        # With auth on and no user yet, influxd accepts exactly this statement without credentials.
        query = f"CREATE USER {USER} WITH PASSWORD '{PASSWORD}' WITH ALL PRIVILEGES"
        self._post_query(query, auth=False)

    def _write_nginx_config(self) -> None:
        prefix = self.root / "nginx"
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / name).mkdir(parents=True, exist_ok=True)
        user = "user root root;\n" if os.geteuid() == 0 else ""
        upstream = f"http://127.0.0.1:{self.influx_port}"
        (prefix / "nginx.conf").write_text(
            f"""{user}worker_processes 1;
error_log {prefix / "error.log"} warn;
pid {prefix / "nginx.pid"};
events {{ worker_connections 256; }}
http {{
  access_log {prefix / "access.log"};
  client_body_temp_path {prefix / "body"};
  proxy_temp_path {prefix / "proxy"};
  fastcgi_temp_path {prefix / "fastcgi"};
  uwsgi_temp_path {prefix / "uwsgi"};
  scgi_temp_path {prefix / "scgi"};
  client_max_body_size 64m;
  client_body_buffer_size 16m;
  map $arg_precision $influx_precision {{ ns n; us u; ms ms; s s; default n; }}
  map $http_authorization $influx_user {{ "~^Token\\s+(?<tu>[^:]*):" $tu; default ""; }}
  map $http_authorization $influx_password {{ "~^Token\\s+[^:]*:(?<tp>.*)$" $tp; default ""; }}
  server {{
    listen 127.0.0.1:{self.proxy_port};
    location = /api/v2/write {{
      proxy_set_header Authorization "";
      set $influx_auth "u=$influx_user&p=$influx_password";
      proxy_pass {upstream}/write?db=$arg_bucket&precision=$influx_precision&$influx_auth;
    }}
    location = /ping {{ proxy_pass {upstream}/ping; }}
    location = /health {{ proxy_pass {upstream}/ping; }}
  }}
}}
"""
        )

    def _start_nginx(self) -> None:
        prefix = self.root / "nginx"
        self.nginx = subprocess.Popen(
            [
                self._nginx_bin,
                "-p",
                str(prefix),
                "-e",
                str(prefix / "error.log"),
                "-c",
                str(prefix / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(prefix / "stderr.log").open("ab"),
        )
        _wait_http(f"{self.url}/ping", 30, self.nginx, prefix / "error.log")

    # --- InfluxQL ------------------------------------------------------------------------------------------

    def _query(self, query: str, database: str | None = None, raise_errors: bool = True) -> dict[str, Any]:
        params = {"q": query, "u": USER, "p": PASSWORD, "epoch": "ns"}
        if database:
            params["db"] = database
        url = f"{self.influx_url}/query?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            body = json.loads(error.read() or b"{}")
            if raise_errors:
                raise ServiceError(f"{query}: HTTP {error.code} {body}") from None
        if raise_errors and (body.get("error") or any("error" in r for r in body.get("results", []))):
            raise ServiceError(f"{query}: {body}")
        return body

    def _post_query(self, query: str, auth: bool = True) -> None:
        # influxd reads credentials from the URL (or headers), never from the form body.
        credentials = "?" + urllib.parse.urlencode({"u": USER, "p": PASSWORD}) if auth else ""
        request = urllib.request.Request(
            f"{self.influx_url}/query{credentials}",
            data=urllib.parse.urlencode({"q": query}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        if any("error" in result for result in body.get("results", [])):
            raise ServiceError(f"{query}: {body}")

    def create_database(self, name: str) -> None:
        self._post_query(f'CREATE DATABASE "{name}"')

    def create_user(self, name: str, password: str) -> str:
        """A second admin; returns its token (``user:password``) for the sink."""
        self._post_query(f"CREATE USER \"{name}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES")
        return f"{name}:{password}"

    def dump(self, database: str) -> str:
        """Every point of every measurement, tags and fields, as JSON text (to search it)."""
        measurements = [row["name"] for row in self.select(database, "SHOW MEASUREMENTS")]
        return json.dumps({m: self.select(database, f'SELECT * FROM "{m}"') for m in measurements})

    def select(self, database: str, query: str) -> list[dict[str, Any]]:
        """Rows of ``query`` as dicts (all series concatenated, tags merged in)."""
        rows: list[dict[str, Any]] = []
        for result in self._query(query, database).get("results", []):
            for series in result.get("series", []):
                for values in series["values"]:
                    row = dict(zip(series["columns"], values, strict=True))
                    rows.append({**series.get("tags", {}), **row})
        return rows

    def query_count(self, database: str, measurement: str, field: str, where: str = "") -> int:
        """``SELECT count(field) FROM measurement``: points stored (0 when there are none)."""
        condition = f" WHERE {where}" if where else ""
        rows = self.select(database, f'SELECT count("{field}") FROM "{measurement}"{condition}')
        return int(rows[0]["count"]) if rows else 0


@dataclass
class InfluxDatabase:
    """One test's database on a shared ``InfluxService``."""

    service: InfluxService
    name: str

    @property
    def url(self) -> str:
        return self.service.url

    @property
    def token(self) -> str:
        return self.service.token

    def query_count(self, measurement: str, field: str, where: str = "") -> int:
        return self.service.query_count(self.name, measurement, field, where)

    def select(self, query: str) -> list[dict[str, Any]]:
        return self.service.select(self.name, query)

    def dump(self) -> str:
        return self.service.dump(self.name)

    def stop_influx(self) -> None:
        self.service.stop_influx()

    def start_influx(self) -> None:
        self.service.start_influx()
