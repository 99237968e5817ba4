"""setup.py: a wheel carries the compiled hot path where a C compiler is, and the pure one, saying why, where none
is; an editable install, metadata and an sdist never compile. The wheels are built as pip builds them for a user,
with build isolation, from a copy of the tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.test_compile_script import ROOT, compile_script, load_script


def setup_script() -> ModuleType:
    return load_script(ROOT / "setup.py", "s2s_setup")  # not as __main__: setup() does not run


def build_wheel(tmp_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*compile_script().NOT_COPIED))
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path / "wheels"), str(source)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **environ},
    )


def the_wheel(tmp_path: Path) -> Path:
    (wheel,) = (tmp_path / "wheels").glob("s2s_users-*.whl")
    return wheel


@pytest.mark.timeout(1200)
def test_a_wheel_built_with_a_compiler_carries_the_compiled_hot_path_and_its_install_runs_it(tmp_path: Path) -> None:
    build = build_wheel(tmp_path)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    wheel = the_wheel(tmp_path)
    assert "-cp311-" in wheel.name and wheel.name.endswith("_x86_64.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "s2s_users/compiled.sha256" in names and "s2s_users/io/pump.py" in names
    assert any(name.startswith("s2s_users/io/pump.") and name.endswith(".so") for name in names)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)  # fmt: skip
    # Run outside the checkout, whose pure sources would come first on sys.path.
    version = subprocess.run([sys.executable, "-m", "s2s_users", "version"], cwd=tmp_path, capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": str(site)})  # fmt: skip
    assert version.returncode == 0, version.stderr
    assert version.stdout.splitlines()[-1] == "hot path compiled"


def test_without_a_c_compiler_the_wheel_is_pure_and_the_build_says_why(tmp_path: Path) -> None:
    build = build_wheel(tmp_path, CC="/bin/false")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert the_wheel(tmp_path).name == "s2s_users-0.1.0-py3-none-any.whl"
    names = zipfile.ZipFile(the_wheel(tmp_path)).namelist()
    assert not any(name.endswith(".so") for name in names) and "s2s_users/compiled.sha256" not in names
    assert (
        "s2s_users: installing the pure hot path: the C compiler (/bin/false) cannot compile against"
        in build.stdout + build.stderr
    )


def test_compile_yes_without_a_c_compiler_fails_the_build_with_one_line(tmp_path: Path) -> None:
    build = build_wheel(tmp_path, CC="/bin/false", S2S_USERS_COMPILE="yes")
    assert build.returncode != 0
    assert (
        "s2s_users: S2S_USERS_COMPILE=yes, but the hot path cannot be compiled: the C compiler"
        in build.stdout + build.stderr
    )
    assert not (tmp_path / "wheels").exists() or not list((tmp_path / "wheels").iterdir())


@pytest.mark.parametrize(
    "commands",
    [
        ["editable_wheel", "--dist-info-dir", "x"],  # pip install -e (make install)
        ["dist_info", "--output-dir", "x"],  # metadata
        ["egg_info"],
        ["sdist", "--dist-dir", "x"],
    ],
)
def test_an_editable_install_metadata_and_an_sdist_compile_nothing(commands: list[str]) -> None:
    assert setup_script().hot_path_extensions("auto", commands) == []


def test_compile_no_builds_a_pure_wheel_without_asking_for_a_compiler() -> None:
    assert setup_script().hot_path_extensions("no", ["bdist_wheel", "--dist-dir", "x"]) == []


def test_an_unknown_compile_setting_stops_with_one_line_naming_the_choices() -> None:
    with pytest.raises(SystemExit, match="S2S_USERS_COMPILE must be one of auto, yes, no, not 'maybe'"):
        setup_script().compile_mode({"S2S_USERS_COMPILE": "maybe"})
