"""The mock's server events validate strictly against the official ``openai`` SDK's own types.

The SDK's realtime extra pins ``websockets<16``, which the main environment cannot use, so the check runs in a
venv of its own, ``<repo>/.venv-sdk``: made here on first use and remade only when tests/sdk/requirements.txt
changes (a stamp file holds its hash). If it cannot be installed, this test fails: it never skips.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s2s_users.core.mock.profiles import DEFAULT_MOCK_API_KEY
from s2s_users.io.mockserver import MockServerProcess

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
VALIDATOR = HERE / "validate_mock.py"
VENV = ROOT / ".venv-sdk"
STAMP = VENV / ".requirements.sha256"

# Every GA server event the scenario must provoke (manual turns, errors, a cancel, a server-VAD turn).
EXPECTED_TYPES = {
    "session.created",
    "session.updated",
    "input_audio_buffer.committed",
    "input_audio_buffer.cleared",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "conversation.item.added",
    "conversation.item.done",
    "response.created",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_audio.delta",
    "response.output_audio_transcript.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
    "error",
}


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def _tail(process: subprocess.CompletedProcess[str], lines: int = 40) -> str:
    return "\n".join((process.stdout + process.stderr).splitlines()[-lines:])


@pytest.fixture(scope="module")
def sdk_python() -> Path:
    """The SDK venv's python, (re)installed only when the requirements changed."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()
    python = VENV / "bin" / "python"
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    made = _run([sys.executable, "-m", "venv", str(VENV)], timeout=300)
    if made.returncode != 0:
        pytest.fail(f"cannot create {VENV} (python3-venv missing?):\n{_tail(made)}", pytrace=False)
    installed = _run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], timeout=480)
    if installed.returncode != 0:  # no network, no registry: a failure, never a skip
        pytest.fail(f"cannot install {REQUIREMENTS.name} into {VENV}:\n{_tail(installed)}", pytrace=False)
    STAMP.write_text(digest + "\n")
    return python


@pytest.fixture
def mock_url() -> Iterator[str]:
    with MockServerProcess(time_scale=20.0, api_key=DEFAULT_MOCK_API_KEY, seed=1) as mock:
        yield mock.url


def test_every_mock_event_validates_against_the_openai_sdk(sdk_python: Path, mock_url: str) -> None:
    result = _run([str(sdk_python), str(VALIDATOR), mock_url, "--api-key", DEFAULT_MOCK_API_KEY], timeout=240)
    assert result.returncode == 0, f"validate_mock.py exited {result.returncode}:\n{_tail(result, 80)}"
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["failures"] == 0
    # Every event received was validated (none failed), and there were plenty of them.
    assert summary["validated"] == sum(summary["counts"].values())
    assert summary["validated"] >= 100
    assert EXPECTED_TYPES <= set(summary["types"]), EXPECTED_TYPES - set(summary["types"])
    assert summary["counts"]["response.output_audio.delta"] >= 40
    assert summary["counts"]["response.done"] >= 4  # two manual turns, a cancelled one, a server-VAD one
    assert summary["counts"]["error"] >= 4
    assert summary["self_test_cases"] >= 10
