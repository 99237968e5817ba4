"""The installed package's version, and the versions a report names (for reports and run annotations)."""

from __future__ import annotations

import platform
from importlib import machinery, metadata, util

#: The distributions whose versions change what a run measures or how it is driven.
REPORTED_DISTRIBUTIONS = ("s2s_users", "locust", "websockets", "gevent", "influxdb-client", "soxr")
#: A module of the hot path: compiled with the others or not at all (pyproject.toml, [tool.s2s_users.compiled]).
HOT_PATH_MODULE = "s2s_users.io.pump"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def package_version() -> str:
    return _version("s2s_users")


def hot_path() -> str:
    """Which hot path this process runs: "compiled" from mypyc's extensions (a wheel built where a C compiler was,
    or ``make compiled``), else "pure". The compiled one holds more sessions per core (README)."""
    spec = util.find_spec(HOT_PATH_MODULE)
    origin = spec.origin if spec is not None else None
    return "compiled" if origin is not None and origin.endswith(tuple(machinery.EXTENSION_SUFFIXES)) else "pure"


def versions() -> dict[str, str]:
    """Python's and each reported distribution's version, and which hot path runs."""
    return {
        "python": platform.python_version(),
        **{name: _version(name) for name in REPORTED_DISTRIBUTIONS},
        "hot path": hot_path(),
    }
