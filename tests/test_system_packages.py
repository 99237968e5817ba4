"""`make test`'s Debian packages: installed as root, otherwise one line saying what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system-packages.sh"


def _fake(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _run(tmp_path: Path, uid: int, installed: bool, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    _fake(tmp_path, "dpkg", "exit 0" if installed else "exit 1")
    _fake(tmp_path, "id", f"echo {uid}")
    _fake(tmp_path, "apt-get", f'echo "apt-get $*" >> {tmp_path / "apt.log"}')
    _fake(tmp_path, "service", "exit 0")
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "PYTHON": python}
    return subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)


def test_nothing_happens_when_every_package_is_there(tmp_path: Path) -> None:
    result = _run(tmp_path, uid=1000, installed=True)
    assert result.returncode == 0 and result.stderr == "" and not (tmp_path / "apt.log").exists()


def test_without_root_it_stops_at_once_with_the_one_line_to_run(tmp_path: Path) -> None:
    result = _run(tmp_path, uid=1000, installed=False)
    assert result.returncode == 2 and not (tmp_path / "apt.log").exists()
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and "apt-get install -y influxdb nginx-light" in line and "chromium" in line


def test_as_root_it_installs_what_is_missing(tmp_path: Path) -> None:
    result = _run(tmp_path, uid=0, installed=False)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls[0] == "apt-get update -qq" and calls[1].startswith("apt-get install -y -qq influxdb")


def test_gcc_is_asked_for_and_python3_dev_only_for_a_python_without_its_headers(tmp_path: Path) -> None:
    (line,) = _run(tmp_path, uid=1000, installed=False).stderr.splitlines()
    assert line.endswith(" debootstrap gcc")  # this Python has Python.h
    _fake(tmp_path, "headerless-python", "exit 1")
    (line,) = _run(tmp_path, uid=1000, installed=False, python=str(tmp_path / "headerless-python")).stderr.splitlines()
    assert line.endswith(" debootstrap gcc python3-dev")
