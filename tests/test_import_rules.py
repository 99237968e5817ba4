"""The pure core imports no socket, gevent, locust, websockets or influx library (DESIGN §4)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "s2s_users"
PURE = [
    "protocols",
    "engine",
    "metrics",
    "reporting",
    "failures.py",
    "events.py",
    "exceptions.py",
    "audio.py",
]
FORBIDDEN = {
    "socket",
    "ssl",
    "select",
    "selectors",
    "asyncio",
    "gevent",
    "locust",
    "websockets",
    "influxdb_client",
}


def pure_modules() -> list[Path]:
    paths: list[Path] = []
    for name in PURE:
        target = PACKAGE / name
        paths.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return paths


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_pure_core_has_modules_to_check() -> None:
    assert len(pure_modules()) >= 10


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_module_imports_no_io_library(path: Path) -> None:
    assert imported_roots(path) & FORBIDDEN == set()


def test_only_locust_ext_imports_locust() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "locust" in imported_roots(path) and path.parent.name != "locust_ext"
    ]
    assert offenders == []
