"""The installed package's version, for reports and run annotations."""

from __future__ import annotations

from importlib import metadata


def package_version() -> str:
    try:
        return metadata.version("s2s_users")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"
