"""Settings read from Locust's parsed options: the run, InfluxDB, the CI gates, what a report says of the run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from s2s_users.core.config import RunSettings, settings_from_options
from s2s_users.core.exceptions import ConfigError
from s2s_users.core.mock.profiles import DEFAULT_MOCK_API_KEY
from s2s_users.core.mock.scenario import load_scenario
from s2s_users.core.protocols.providers import DEFAULT_MOCK_MODELS
from s2s_users.core.redact import redact_url
from s2s_users.core.reporting.gates import Gates
from s2s_users.io.sinks.influx import InfluxSettings
from s2s_users.locust_ext.options import DEFAULT_MODELS, OPTIONS_BY_DEST, SECRET_OPTIONS


def run_settings(options: Any) -> RunSettings:
    """The run's settings; with ``--mock-scenario``, its models and name fill in the defaults; against the
    embedded mock, a protocol with models of its own plays those by default (Gemini's)."""
    settings = settings_from_options(options, DEFAULT_MOCK_API_KEY)
    if settings.embedded_mock and options.s2s_model == DEFAULT_MODELS and settings.protocol in DEFAULT_MOCK_MODELS:
        settings = dataclasses.replace(settings, models=DEFAULT_MOCK_MODELS[settings.protocol])
    if settings.mock_scenario is None or not settings.embedded_mock:
        return settings
    scenario = load_scenario(settings.mock_scenario)
    models = scenario.models if options.s2s_model == DEFAULT_MODELS else settings.models
    unknown = [m for m in models if m not in scenario.profiles]
    if unknown:
        raise ConfigError(
            f"--s2s-model {unknown[0]!r} is not in scenario {settings.mock_scenario}: "
            f"use one of {', '.join(sorted(scenario.profiles))}"
        )
    label = scenario.name if settings.scenario == "default" else settings.scenario
    weights = settings.model_weights if models == settings.models else ()
    return dataclasses.replace(settings, models=models, scenario=label, model_weights=weights)


def influx_settings(options: Any, spool_root: Path, worker: str) -> InfluxSettings | None:
    """InfluxDB settings from the options, or None when ``--influx-url`` is not given."""
    url = (getattr(options, "influx_url", "") or "").strip()
    if not url:
        return None
    return InfluxSettings(
        url=url,
        token=options.influx_token,
        org=options.influx_org,
        bucket=options.influx_bucket,
        spool_dir=spool_root / "influx-spool" / worker,
    )


def gates(options: Any) -> Gates:
    return Gates(
        silent_failure_rate=getattr(options, "check_silent_failure_rate", None),
        min_capacity_minutes=getattr(options, "check_min_capacity_minutes", None),
        ttfa_p95_ms=getattr(options, "check_ttfa_p95_ms", None),
    )


#: Locust's own options a report names (the rest describe Locust's outputs, not the run).
LOCUST_OPTIONS = ("num_users", "spawn_rate", "run_time", "locustfile", "processes", "expect_workers", "reset_stats")
_URL_OPTIONS = frozenset({"s2s_url", "influx_url"})


def run_options(options: Any) -> dict[str, Any]:
    """The options a report shows: ours without the secret ones, URLs without credentials, and Locust's run shape."""
    shown: dict[str, Any] = {}
    for name in [*OPTIONS_BY_DEST, *LOCUST_OPTIONS]:
        if name in SECRET_OPTIONS or not hasattr(options, name):
            continue
        value = getattr(options, name)
        if name in _URL_OPTIONS and value:
            value = redact_url(str(value))
        shown[name] = value if isinstance(value, str | int | float | bool) or value is None else str(value)
    return shown


def target_description(settings: RunSettings) -> str:
    """Where the sessions go, without secrets: the URL, or the embedded mock (and its scenario)."""
    if settings.url is not None:
        return redact_url(settings.url)
    target = "embedded mock"
    if settings.mock_scenario is not None:
        target += f" ({settings.mock_scenario})"
    return target
