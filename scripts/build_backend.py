"""The project's build backend: setuptools', which asks for what compiling the hot path needs (pyproject.toml,
``[tool.s2s_users.compiled] build-requires``) only for a wheel that may compile it (setup.py): an editable
install, an sdist, or ``S2S_USERS_COMPILE=no`` needs setuptools alone. The pattern of setuptools' documentation
("dynamic build dependencies")."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403  (the other hooks, unchanged)

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def get_requires_for_build_wheel(config_settings: dict[str, str | list[str]] | None = None) -> list[str]:
    requires = list(build_meta.get_requires_for_build_wheel(config_settings))
    if os.environ.get("S2S_USERS_COMPILE", "auto") == "no":
        return requires
    with PYPROJECT.open("rb") as file:
        compiled = tomllib.load(file)["tool"]["s2s_users"]["compiled"]
    return requires + list(compiled["build-requires"])
