"""The installed package's version, and the versions a report names (for reports and run annotations)."""

from __future__ import annotations

import platform
from importlib import metadata

#: The distributions whose versions change what a run measures or how it is driven.
REPORTED_DISTRIBUTIONS = ("s2s_users", "locust", "websockets", "gevent", "influxdb-client", "soxr")


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def package_version() -> str:
    return _version("s2s_users")


def versions() -> dict[str, str]:
    """Python's and each reported distribution's version."""
    return {"python": platform.python_version(), **{name: _version(name) for name in REPORTED_DISTRIBUTIONS}}
