"""Builds s2s_users. A wheel (``pip install .``) gets the hot path compiled with mypyc when this machine can compile
it: a fifth to a quarter less CPU per session, so a worker holds more sessions (README, "How much a core holds").

``S2S_USERS_COMPILE``, as websockets' ``BUILD_EXTENSION`` for its C speedups:

- ``auto`` (the default): compiled when mypyc, a C compiler and Python's headers are here; otherwise the pure hot
  path, with a warning (``pip install -v`` shows it; a run's report names which one ran);
- ``yes``: compiled, or the install fails;
- ``no``: pure.

An editable install (``pip install -e .``, ``make install``) stays pure whatever the setting: its sources are there
to be edited, and an extension would shadow them (``make compiled`` compiles them in place, with a guard).
The modules are listed in pyproject.toml (``[tool.s2s_users.compiled]``); ``scripts/compile.py`` holds the build.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
MODES = ("auto", "yes", "no")
#: The commands that put extensions in a wheel or an installed tree (not metadata, not an sdist, not editable).
BUILDS = {"bdist_wheel", "build", "build_ext"}


def say(message: str) -> None:
    print(f"s2s_users: {message}", file=sys.stderr)


@functools.cache  # loaded once per build: for the extensions, then for the manifest
def compile_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("s2s_compile", ROOT / "scripts" / "compile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def why_not_compiled() -> str | None:
    """What this machine lacks to compile the hot path, or None: mypyc, or a C compiler that finds Python.h."""
    if importlib.util.find_spec("mypyc") is None:
        return "mypyc (from mypy) is not installed"
    import sysconfig
    from distutils.ccompiler import new_compiler  # setuptools' own distutils, once setuptools is imported
    from distutils.errors import CCompilerError, DistutilsError
    from distutils.sysconfig import customize_compiler

    compiler = new_compiler()
    customize_compiler(compiler)
    headers = sysconfig.get_paths()["include"]
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe.c"
        probe.write_text("#include <Python.h>\nint probe(void) { return 0; }\n")
        try:
            compiler.compile([str(probe)], output_dir=folder, include_dirs=[headers])
        except (CCompilerError, DistutilsError, OSError):
            name = getattr(compiler, "compiler_so", [compiler.compiler_type])[0]  # a Unix compiler's command
            return f"the C compiler ({name}) cannot compile against {headers}/Python.h"
    return None


def compile_mode(environ: Mapping[str, str]) -> str:
    mode = environ.get("S2S_USERS_COMPILE", "auto")
    if mode not in MODES:
        raise SystemExit(f"s2s_users: S2S_USERS_COMPILE must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def hot_path_extensions(mode: str, commands: list[str]) -> list[Any]:
    """The extensions to build for these setup.py commands: none for metadata, an sdist or an editable install."""
    if mode == "no" or not BUILDS.intersection(commands):
        return []
    lack = why_not_compiled()
    if lack is not None:
        if mode == "yes":
            raise SystemExit(f"s2s_users: S2S_USERS_COMPILE=yes, but the hot path cannot be compiled: {lack}")
        say(f"installing the pure hot path: {lack} (apt-get install gcc python3-dev, then reinstall)")
        return []
    try:
        return list(compile_script().mypyc_extensions(ROOT))
    except SystemExit as error:  # mypyc stops this way when mypy finds errors: it printed them
        if mode == "yes":
            raise
        say(f"installing the pure hot path: mypyc could not compile it (exit {error.code}; its errors are above)")
        return []


class BuildHotPath(build_ext):
    """Compiles the hot path and writes the manifest of the sources it was compiled from next to them
    (``s2s_users/__init__.py`` checks it)."""

    def run(self) -> None:
        super().run()
        if self.extensions:
            script = compile_script()
            Path(self.build_lib, script.MANIFEST).write_text(script.manifest(ROOT))
            say(f"compiled the hot path: {len(self.extensions)} extensions")


if __name__ == "__main__":  # as setuptools runs it (the tests import it)
    setup(ext_modules=hot_path_extensions(compile_mode(os.environ), sys.argv[1:]), cmdclass={"build_ext": BuildHotPath})
