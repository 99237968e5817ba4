"""The web UI's start form for the product's options: write-only secrets, typed values, one-line errors.

Locust serves every web option in its start form with the option's current value as the field's default (read
afresh from the command line, the environment and locust.conf on every page load), and applies a submitted form
to ``parsed_options`` as raw strings. For our options this module takes both over:

- ``hide_secrets``: secret options are served with an empty field: their value never leaves the server.
- ``form_values``: a submitted form becomes typed option values. An empty field keeps the value the process
  started with (command line, environment, locust.conf, or the built-in default; for secrets, the key the
  server holds; for the run id, the one minted at start-up, so every worker labels records alike). A typed value
  is checked like the command line's, with the same one-line errors.

Locust's form does not post our options under their names: its field names go from snake_case to camelCase and
back, which turns ``s2s_api_key`` into ``s_2s_api_key`` and ``check_ttfa_p95_ms`` into ``check_ttfa_p9_5ms``
(Locust itself then finds no such option and drops the value). Fields are therefore matched to options with
underscores and case ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from s2s_users.locust_ext.options import OPTIONS, SECRET_OPTIONS, Option


def _field_key(name: str) -> str:
    return name.replace("_", "").lower()


_BY_FIELD: dict[str, Option] = {_field_key(option.dest): option for option in OPTIONS}
assert len(_BY_FIELD) == len(OPTIONS), "two options would share a start-form field"


def hide_secrets(extra_options: dict[str, dict[str, Any]]) -> None:
    """Blank the served default of every secret option (Locust's ``template_args["extra_options"]``)."""
    for name in SECRET_OPTIONS:
        if name in extra_options:
            extra_options[name] = {**extra_options[name], "default_value": ""}


def form_values(form: Iterable[tuple[str, str]], started_with: Mapping[str, Any]) -> dict[str, Any]:
    """Our options among a form's ``(field, text)`` pairs, typed; raises ``ConfigError`` on a bad value."""
    values: dict[str, Any] = {}
    for name, text in form:
        option = _BY_FIELD.get(_field_key(name))
        if option is None or not option.web:
            continue
        values[option.dest] = option.parse(text) if text.strip() else started_with[option.dest]
    return values


def is_ours(field: str) -> bool:
    """True for the form fields this module types and applies (Locust must leave them alone)."""
    return _field_key(field) in _BY_FIELD
