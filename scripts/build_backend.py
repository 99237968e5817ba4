"""The project's build backend: setuptools', which asks for what compiling the hot path needs (pyproject.toml,
``[tool.s2s_users.compiled] build-requires``) only for a wheel that may compile it (setup.py): an editable
install, an sdist, or ``S2S_USERS_COMPILE=no`` needs setuptools alone. The pattern of setuptools' documentation
("dynamic build dependencies")."""

from __future__ import annotations

import os

from compile import ROOT, settings  # scripts/compile.py: backend-path puts scripts/ first on sys.path
from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403  (the other hooks, unchanged)


def get_requires_for_build_wheel(config_settings: dict[str, str | list[str]] | None = None) -> list[str]:
    requires = list(build_meta.get_requires_for_build_wheel(config_settings))
    if os.environ.get("S2S_USERS_COMPILE", "auto") == "no":
        return requires
    return requires + list(settings(ROOT)["build-requires"])
