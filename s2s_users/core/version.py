"""The installed package's version, and the versions a report names (for reports and run annotations)."""

from __future__ import annotations

import platform
from collections.abc import Mapping
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


def hot_paths_of(processes: Mapping[str, str], own: str) -> str:
    """The hot path the users ran, for a report: one word when every process that ran users said the same (or
    none said: ``own``, this process's), else each with its processes ("compiled on worker-0; pure on worker-1")."""
    paths = sorted(set(processes.values()))
    if not paths:
        return own
    if len(paths) == 1:
        return paths[0]
    return "; ".join(f"{path} on {', '.join(sorted(n for n, p in processes.items() if p == path))}" for path in paths)


def versions() -> dict[str, str]:
    """Python's and each reported distribution's version, and which hot path runs."""
    return {
        "python": platform.python_version(),
        **{name: _version(name) for name in REPORTED_DISTRIBUTIONS},
        "hot path": hot_path(),
    }
