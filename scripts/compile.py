"""The compiled hot path: ``build`` turns the modules every audio chunk runs through into C extensions with mypyc
(they are ``mypy --strict`` clean, so mypyc compiles them as they are), beside their sources; ``remove`` goes back
to pure Python. ``make compiled`` / ``make pure`` run it.

A worker then spends a fifth less CPU per session at 20 ms chunks (the README), so one core holds more sessions.
Python imports an extension before a source of the same name, so an edited source would silently not run: the
build writes the sources' digests to ``s2s_users/compiled.sha256``, and importing ``s2s_users`` refuses to go on
when one no longer matches (``s2s_users/__init__.py``).

    python scripts/compile.py build [--copy DIR]   # built in a copy of the tree made in DIR (the tests' run)
    python scripts/compile.py remove
    python scripts/compile.py check                # the compiled modules are the ones Python imports

The modules are listed in pyproject.toml (``[tool.s2s_users.compiled]``); setup.py compiles the same ones into a
wheel (``pip install .``), with these functions.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "s2s_users/compiled.sha256"


def settings(root: Path) -> dict[str, Any]:
    """``[tool.s2s_users.compiled]`` of the project's pyproject.toml: the hot path's module globs and the name of
    the shared library they are compiled into (setup.py reads the same table for a wheel)."""
    with (root / "pyproject.toml").open("rb") as file:
        table: dict[str, Any] = tomllib.load(file)["tool"]["s2s_users"]["compiled"]
    return table


NOT_COPIED = (
    ".git",
    ".venv*",
    "runs",
    "build",
    "__pycache__",
    "*.so",
    MANIFEST.rpartition("/")[2],
    ".*_cache",
    ".hypothesis",
    "node_modules",
)


def sources(root: Path) -> list[Path]:
    # A package's __init__ stays Python: as an extension it would not be a package any more.
    patterns = settings(root)["modules"]
    return sorted(path for pattern in patterns for path in root.glob(pattern) if path.name != "__init__.py")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(root: Path) -> str:
    """The manifest's text: each compiled source's digest and its path from ``root``, which the guard in
    ``s2s_users/__init__.py`` checks against the sources beside the extensions."""
    return "".join(f"{digest(path)}  {path.relative_to(root)}\n" for path in sources(root))


def mypyc_extensions(root: Path) -> list[Any]:
    """The hot path's extensions (setuptools ``Extension`` objects); mypyc type-checks the sources and writes their
    C into ./build, naming modules by their paths from the current folder, which must be ``root``."""
    from mypyc.build import mypycify

    paths = [str(path.relative_to(root)) for path in sources(root)]
    return list(mypycify(paths, group_name=settings(root)["group"], opt_level="3"))


def extensions(root: Path) -> list[Path]:
    return sorted((root / "s2s_users").rglob("*.so"))


def remove(root: Path) -> None:
    for path in [*extensions(root), root / MANIFEST]:
        path.unlink(missing_ok=True)


def build(root: Path) -> None:
    from setuptools import Distribution

    remove(root)
    os.chdir(root)
    distribution = Distribution({"name": "s2s_users", "ext_modules": mypyc_extensions(root)})
    command = distribution.get_command_obj("build_ext")
    command.inplace = True  # type: ignore[attr-defined]
    distribution.run_command("build_ext")
    (root / MANIFEST).write_text(manifest(root))
    print(f"compiled {len(sources(root))} modules into {len(extensions(root))} extensions under {root / 's2s_users'}")


def check(root: Path) -> None:
    """Each module the manifest names is imported from its extension in ``root``: a test run meant for the
    compiled hot path cannot silently run the pure one (a path order, a missing build)."""
    import importlib

    manifest = root / MANIFEST
    if not manifest.exists():
        raise SystemExit(f"error: {manifest} is missing: nothing was compiled there (scripts/compile.py build)")
    paths = [line.partition("  ")[2] for line in manifest.read_text().splitlines()]
    for path in paths:
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        where = Path(module.__file__ or "")
        if where.suffix != ".so" or not where.is_relative_to(root):
            raise SystemExit(f"error: {module.__name__} was imported from {where}, not from its extension in {root}")
    print(f"{len(paths)} compiled modules are imported from their extensions in {root}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python scripts/compile.py", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["build", "remove", "check"])
    parser.add_argument("--copy", type=Path, help="build in a copy of the tree made in this (new) folder, not in place")
    args = parser.parse_args()
    root = ROOT
    if args.copy is not None:
        root = args.copy.resolve()
        if root.exists() and any(root.iterdir()):
            parser.error(f"--copy wants a new or empty folder: {root} holds files")
        shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(*NOT_COPIED), dirs_exist_ok=True)
    if args.action == "build":
        build(root)
    elif args.action == "check":
        check(root)
    else:
        remove(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
