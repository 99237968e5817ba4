"""s2s_users: distributed load and endurance tester for realtime speech-to-speech APIs."""

from __future__ import annotations

import hashlib
from pathlib import Path

__version__ = "0.1.0"
__all__ = ["__version__"]


def _refuse_stale_compiled_modules() -> None:
    """With the hot path compiled (``make compiled``), Python imports each extension before its source: a source
    edited or pulled since would silently not run. The build noted each source's digest; one that changed stops
    every import of the package, with the command that mends it."""
    manifest = Path(__file__).with_name("compiled.sha256")
    if not manifest.exists():
        return
    root = Path(__file__).parent.parent
    for line in manifest.read_text().splitlines():
        expected, _, path = line.partition("  ")
        source = root / path
        if not source.exists() or hashlib.sha256(source.read_bytes()).hexdigest() != expected:
            raise ImportError(
                f"s2s_users: {path} changed since the hot path was compiled: run `make compiled` again, or `make pure`"
            )


_refuse_stale_compiled_modules()
