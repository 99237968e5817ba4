"""The mock's Gemini Live profile, driven by the official ``google-genai`` SDK: every frame the mock sends parses
strictly as the SDK's ``LiveServerMessage`` (no unknown field at any depth), and the SDK's own session API plays
manual turns ending every way, resumption, a server-VAD turn, goAway and its close, and a refused key.

``google-genai`` installs beside our pins (it is in the dev extras); the check runs in a subprocess all the same,
because the SDK is asyncio and the test process may be gevent-patched by Locust's import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s2s_users.core.mock.profiles import DEFAULT_MOCK_API_KEY
from s2s_users.io.mockserver import MockServerProcess

HERE = Path(__file__).resolve().parent
VALIDATOR = HERE / "validate_gemini_mock.py"
SCENARIO = """
name = "genai-sdk"
seed = 3
[models.g-sdk]
audio = { dist = "constant", seconds = 1.0 }
faults_at = { 2 = "zero_audio", 3 = "cancelled", 4 = "failed", 5 = "truncation", 6 = "incomplete" }
[models.g-sdk-cap]
audio = { dist = "constant", seconds = 1.0 }
session_cap_s = 20
go_away_s = 10
"""


@pytest.fixture
def mock_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "sdk.toml").write_text(SCENARIO)
    with MockServerProcess(time_scale=20.0, api_key=DEFAULT_MOCK_API_KEY, scenario=tmp_path / "sdk.toml") as mock:
        yield mock.url


def test_every_gemini_frame_of_the_mock_parses_with_the_google_genai_sdk(mock_url: str) -> None:
    result = subprocess.run(
        [sys.executable, str(VALIDATOR), mock_url, "--api-key", DEFAULT_MOCK_API_KEY],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    output = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
    assert result.returncode == 0, f"validate_gemini_mock.py exited {result.returncode}:\n{output}"
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["failures"] == 0 and summary["sdk"].startswith("3.")
    assert summary["validated"] == summary["frames"] >= 60  # every frame received, and plenty of them
    assert {"setupComplete", "serverContent", "usageMetadata", "goAway", "sessionResumptionUpdate"} <= set(
        summary["keys"]
    )
    assert summary["counts"]["setupComplete"] == 4  # three sessions and a resumed one
    assert summary["self_test_cases"] >= 6
