"""docker/smoke.sh: the image, built offline on the local base image with its hot path compiled, runs a distributed
run end to end.

A Docker engine is needed: this test starts dockerd itself when none answers and it runs as root (as CI does),
and fails, never skips, when it cannot have one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.stack import ROOT

SMOKE = ROOT / "docker" / "smoke.sh"


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False).returncode == 0


@pytest.fixture(scope="module")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A running Docker engine; one this fixture started is stopped again afterwards."""
    assert shutil.which("docker"), "the docker CLI is missing: apt-get install docker.io (.ci/run does)"
    if engine_answers():
        yield
        return
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.fail("no Docker engine answers: start dockerd (this test starts it only as root)", pytrace=False)
    log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
    with log.open("w") as output:
        daemon = subprocess.Popen(["dockerd"], stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not engine_answers():
            if daemon.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dockerd did not start:\n{log.read_text()[-2000:]}", pytrace=False)
            time.sleep(1)
        yield
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


@pytest.mark.timeout(1200)
def test_the_image_runs_a_mock_a_master_and_two_workers_to_a_report(docker_engine: None, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(SMOKE)],
        cwd=ROOT,
        env={**os.environ, "S2S_SMOKE_REPORTS": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=1100,
        check=False,
    )
    assert result.returncode == 0, f"docker/smoke.sh failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "smoke: report: 4 sessions from workers worker-0, worker-1; 20/20 turns completed" in result.stdout
    (report,) = tmp_path.glob("smoke-*/report.json")
    # The image installs the wheel its build stage compiled: its workers run the compiled hot path.
    assert json.loads(report.read_text())["run"]["versions"]["hot path"] == "compiled"
    leftovers = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "name=s2s-smoke-"], capture_output=True, text=True, check=True
    )
    assert leftovers.stdout.strip() == "", "docker/smoke.sh left containers behind"
