"""The layout is the architecture: ``core/`` touches nothing, ``io/`` is the shells, ``locust_ext/`` is Locust.

- ``s2s_users/core/`` imports no socket, process, thread, event loop, network or audio-file library, and nothing of
  ``io/`` or ``locust_ext/``: it can be read, and tested, as plain functions and state machines.
- ``s2s_users/io/`` may touch sockets, files, threads and processes, but never Locust.
- only ``s2s_users/locust_ext/`` imports Locust (and the locustfiles).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "s2s_users"
CORE = PACKAGE / "core"
IO = PACKAGE / "io"
FORBIDDEN_IN_CORE = {
    "socket",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "threading",
    "subprocess",
    "multiprocessing",
    "gevent",
    "locust",
    "websockets",
    "influxdb_client",
    "urllib3",
    "soundfile",
    "flask",
}


def modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, by its full dotted name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imports(path)}


def test_each_layer_has_modules_to_check() -> None:
    assert len(modules(CORE)) >= 25 and len(modules(IO)) >= 10


@pytest.mark.parametrize("path", modules(CORE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_imports_no_io_library_and_no_shell(path: Path) -> None:
    assert roots(path) & FORBIDDEN_IN_CORE == set()
    assert not [name for name in imports(path) if name.startswith(("s2s_users.io", "s2s_users.locust_ext"))]


@pytest.mark.parametrize("path", modules(IO), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_shells_never_import_locust(path: Path) -> None:
    assert "locust" not in roots(path)
    assert not [name for name in imports(path) if name.startswith("s2s_users.locust_ext")]


def test_only_locust_ext_imports_locust() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "locust" in roots(path) and path.parent.name != "locust_ext"
    ]
    assert offenders == []
