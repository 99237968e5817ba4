"""The dashboards' InfluxQL as Grafana would send it: extracted from the JSON, macros filled in, run against InfluxDB.

Grafana cannot be installed here, so the dashboards are proven the other way round: every query of every panel,
variable and annotation is taken out of the committed JSON, its macros (``$timeFilter``, ``$__interval``) and
variables (``$run``, ``$model``...) are filled in the way Grafana's InfluxDB data source fills them, and it is sent
to a real InfluxDB through the ``/query`` endpoint that 1.x serves and 2.x/3.x keep for InfluxQL.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"


@dataclass(frozen=True, slots=True)
class PanelQuery:
    """One query of a dashboard: where it comes from (panel title, variable or annotation) and its text."""

    dashboard: str
    source: str
    panel_type: str
    ref_id: str
    query: str
    alias: str | None = None


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DASHBOARDS / name).read_text())
    return data


def dashboard_names() -> list[str]:
    return sorted(path.name for path in DASHBOARDS.glob("*.json"))


def queries(name: str) -> Iterator[PanelQuery]:
    """Every InfluxQL query in dashboard ``name``: panels' targets, variables, annotations."""
    board = load(name)
    for panel in board.get("panels", []):
        for target in panel.get("targets", []):
            yield PanelQuery(name, panel["title"], panel["type"], target["refId"], target["query"], target.get("alias"))
    for variable in board.get("templating", {}).get("list", []):
        yield PanelQuery(name, f"variable {variable['name']}", "variable", "var", variable["query"])
    for annotation in board.get("annotations", {}).get("list", []):
        yield PanelQuery(name, f"annotation {annotation['name']}", "annotation", "Anno", annotation["target"]["query"])


def _regex_value(values: list[str]) -> str:
    # Grafana's InfluxQL formatting of a multi-value variable used inside /.../: escaped alternatives.
    escaped = [re.sub(r"([\\/.^$*+?(){}\[\]|-])", r"\\\1", value) for value in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def fill(query: str, variables: Mapping[str, list[str]], start_ms: int, end_ms: int, interval: str) -> str:
    """``query`` with Grafana's macros and the variables' values in place."""
    text = query.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
    text = text.replace("$__interval", interval)
    for name in sorted(variables, key=len, reverse=True):  # $model before $mode, if both existed
        values = variables[name]
        text = text.replace(f"/^${name}$/", f"/^{_regex_value(values)}$/")
        text = text.replace(f"'${name}'", "'" + values[0].replace("'", "\\'") + "'")
    if re.search(r"\$(?!tag_|col\b)\w", text):
        raise ValueError(f"a variable is left unfilled in: {text}")
    return text


@dataclass(frozen=True, slots=True)
class InfluxQL:
    """An InfluxDB ``/query`` endpoint: 1.x with user/password, or 2.x/3.x with a token (v1 compatibility API)."""

    url: str
    database: str
    username: str = ""
    password: str = ""
    token: str = ""

    def run(self, query: str) -> list[dict[str, Any]]:
        """One dict per series: ``name``, ``tags``, ``columns``, ``values`` (times in ms); raises on an error."""
        params = {"db": self.database, "q": query, "epoch": "ms"}
        if self.username:
            params.update(u=self.username, p=self.password)
        request = urllib.request.Request(f"{self.url.rstrip('/')}/query?{urllib.parse.urlencode(params)}")
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        series: list[dict[str, Any]] = []
        for result in body.get("results", []):
            if "error" in result:
                raise RuntimeError(f"InfluxDB refused {query!r}: {result['error']}")
            series.extend(result.get("series", []))
        return series


def rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Series flattened to rows, tags merged in."""
    return [
        {**item.get("tags", {}), **dict(zip(item["columns"], values, strict=True))}
        for item in series
        for values in item["values"]
    ]


_ITEM = re.compile(r'^(?P<fn>\w+)\((?P<args>.*)\)(?:\s*/\s*\S+)?$|^"(?P<field>[^"]+)"(?:\s*/\s*\S+)?$')


def selected_columns(query: str) -> list[str]:
    """The column names InfluxDB answers ``query`` with (besides ``time``): aliases, fields, or function names."""
    if query.upper().startswith("SHOW TAG VALUES"):
        return ["key", "value"]
    match = re.match(r"SELECT (?P<items>.*?) FROM ", query, re.IGNORECASE)
    if match is None:
        raise ValueError(f"not a SELECT: {query}")
    names = []
    for item in _split_items(match.group("items")):
        alias = re.search(r'\sAS\s+"([^"]+)"$', item, re.IGNORECASE)
        if alias:
            names.append(alias.group(1))
            continue
        parts = _ITEM.match(item.strip())
        if parts is None:
            raise ValueError(f"cannot tell the column of {item!r} in {query}")
        names.append(parts.group("fn").lower() if parts.group("fn") else parts.group("field"))
    return names


def _split_items(text: str) -> list[str]:
    items, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [*items, current.strip()]
