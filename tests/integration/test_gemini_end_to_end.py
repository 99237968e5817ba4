"""Gemini Live and Azure end to end: the real tester against the mock, checked against the mock's truth log
session by session.

One Locust run (``--s2s-protocol gemini``, embedded mock) plays one model per fault, a model with an audio ceiling,
and the connection cap three ways: goAway then the close, goAway then silence, goAway then a close before its time.
A second run resumes the capped sessions (``--gemini-resume``) over new connections. Two small Azure runs against a
standalone mock: Voice Live's path with the key in ``api-key``, and Azure OpenAI's with a Microsoft Entra token.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s2s_users.core.mock.profiles import Fault
from s2s_users.io.mockserver import MockServerProcess
from tests.integration.conftest import LocustRun, run_locust
from tests.integration.test_endurance_run import FAST
from tests.integration.test_mock_faults import EXPECTED, FAULT_TURN

# Gemini has no error message: a server error is a close frame, so error_close is no server.error_event there.
EXPECTED_GEMINI = {**EXPECTED, Fault.ERROR_CLOSE: ("transport.closed_frame", "transport.closed_frame")}
# 60 s of server time is 3 s of wall time at the mock's time scale of 20; the goAway says 1 s is left.
CAP = "session_cap_s = 60\ngo_away_s = 20\nstream_speed = 4.0\n"
CAPPED = {
    "g-goaway-close": CAP + 'after_go_away = "close"\n',
    "g-goaway-silence": CAP + 'after_go_away = "silence"\n',
    "g-goaway-early": CAP + 'after_go_away = "early_close"\n',
}
CEILING = "g-ceiling"
TURNS = "40"  # enough for the cap (about 10 turns in) and the ceiling to come first


def _scenario(path: Path, models: dict[str, str]) -> list[str]:
    lines = ['name = "gemini-e2e"', "seed = 5", ""]
    for model, body in models.items():
        lines += [f"[models.{model}]", 'audio = { dist = "uniform", low = 2.0, high = 4.0 }', body, ""]
    path.write_text("\n".join(lines))
    return list(models)


def _by_session(truth_file: Path) -> dict[str, list[dict[str, Any]]]:
    """Truth lines by session id: one per connection, in order (the last is the session's whole story)."""
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in truth_file.read_text().splitlines():
        entry = json.loads(line)
        lines[entry["session_id"]].append(entry)
    return lines


@pytest.fixture(scope="module")
def gemini_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocustRun, dict[str, list[dict[str, Any]]]]:
    folder = tmp_path_factory.mktemp("gemini")
    faults = {f"g-{fault.value}": f'faults_at = {{ {FAULT_TURN} = "{fault.value}" }}' for fault in Fault}
    models = _scenario(folder / "gemini.toml", {**faults, CEILING: "ceiling_s = 20", **CAPPED})
    run = run_locust(
        folder / "run", "--s2s-protocol", "gemini",
        "-u", str(len(models)), "-r", str(len(models)), "--sessions-per-user", "1", "--turns", TURNS,
        "--mock-scenario", str(folder / "gemini.toml"), "--turn-timeout", "2", "--run-time", "3m", *FAST,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    truth = _by_session(run.report_dir / "mock-truth-local.jsonl")
    assert len(run.sessions()) == len(truth) == len(models), "one session, and its truth, per model"
    return run, truth


def _session(run: LocustRun, model: str) -> dict[str, Any]:
    (session,) = [s for s in run.sessions() if s["model"] == model]
    return session


def _matches_truth(session: dict[str, Any], told: dict[str, Any]) -> None:
    """Same session, and the assistant audio of every turn within 10 ms of what the mock sent."""
    assert session["session_id"] == told["session_id"] and session["provider"] == "gemini"
    measured = [t["assistant_audio_s"] for t in session["turns"]]
    sent = told["turn_audio_s"] + [0.0] * (len(measured) - len(told["turn_audio_s"]))
    assert len(measured) >= told["turns"] and measured == pytest.approx(sent, abs=0.010)


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
def test_each_fault_is_reported_as_the_gemini_mock_did_it(
    gemini_run: tuple[LocustRun, dict[str, list[dict[str, Any]]]], fault: Fault
) -> None:
    run, truth = gemini_run
    session = _session(run, f"g-{fault.value}")
    (told,) = truth[session["session_id"]]
    assert told["faults"] == [{"turn": FAULT_TURN, "fault": fault.value}]
    failure, end = EXPECTED_GEMINI[fault]
    assert (session["failure_class"], session["end_class"]) == (failure, end)
    assert session["failure_turn"] == (FAULT_TURN if failure else None)
    _matches_truth(session, told)
    if fault is Fault.TRUNCATION:
        assert session["context_truncations"] == 1 and session["outcome"] == "completed"


def test_the_ceiling_is_a_silent_zero_audio_turn_then_a_drop(
    gemini_run: tuple[LocustRun, dict[str, list[dict[str, Any]]]],
) -> None:
    run, truth = gemini_run
    session = _session(run, CEILING)
    (told,) = truth[session["session_id"]]
    assert session["failure_class"] == "response.zero_audio" and session["end_class"] == "transport.closed_no_frame"
    assert session["capacity_to_silent_failure_s"] >= 20.0 and told["end"] == "aborted"
    assert session["silent_failure_turn"] == session["failure_turn"] == told["turns"]
    _matches_truth(session, told)


def test_go_away_then_the_close_is_the_expected_end(
    gemini_run: tuple[LocustRun, dict[str, list[dict[str, Any]]]],
) -> None:
    run, truth = gemini_run
    session = _session(run, "g-goaway-close")
    (told,) = truth[session["session_id"]]
    assert told["end"] == "session_cap" and [g["then"] for g in told["go_away"]] == ["close"]
    assert (session["outcome"], session["end_class"], session["failure_class"]) == ("expired", "session.expired", None)
    assert session["close_code"] == 1011 and session["censored"] is True
    _matches_truth(session, told)


def test_go_away_then_silence_is_a_silent_failure(
    gemini_run: tuple[LocustRun, dict[str, list[dict[str, Any]]]],
) -> None:
    run, truth = gemini_run
    session = _session(run, "g-goaway-silence")
    (told,) = truth[session["session_id"]]
    assert [g["then"] for g in told["go_away"]] == ["silence"] and told["end"] == "client closed 1000"
    assert session["failure_class"] in ("timeout.first_audio", "timeout.stall")
    assert session["silent_failure_turn"] == session["failure_turn"] and session["outcome"] == "failed"
    assert session["failure_detail"].endswith("(the server had sent goAway)")
    _matches_truth(session, told)


def test_a_close_before_the_go_aways_time_is_up_is_a_failure(
    gemini_run: tuple[LocustRun, dict[str, list[dict[str, Any]]]],
) -> None:
    run, truth = gemini_run
    session = _session(run, "g-goaway-early")
    (told,) = truth[session["session_id"]]
    assert [g["then"] for g in told["go_away"]] == ["early_close"] and told["end"] == "session_cap"
    assert session["failure_class"] == session["end_class"] == "transport.closed_frame"
    assert "before its goAway said" in session["failure_detail"]
    _matches_truth(session, told)


def test_with_resumption_the_session_goes_on_over_new_connections(tmp_path: Path) -> None:
    models = _scenario(tmp_path / "resume.toml", {"g-resume": CAP + 'after_go_away = "close"\n'})
    run = run_locust(
        tmp_path / "run", "--s2s-protocol", "gemini", "--gemini-resume", "-u", "1", "-r", "1",
        "--sessions-per-user", "1", "--turns", "24", "--mock-scenario", str(tmp_path / "resume.toml"),
        "--turn-timeout", "2", "--run-time", "2m", *FAST,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    (session,) = run.sessions()
    connections = _by_session(run.report_dir / "mock-truth-local.jsonl")[session["session_id"]]
    assert session["model"] == models[0] and session["outcome"] == "completed"
    assert session["turns_completed"] == 24 and session["failure_class"] is None
    assert session["reconnects"] == len(connections) - 1 >= 1
    assert [c["connection"] for c in connections] == list(range(1, len(connections) + 1))
    assert all(c["end"] == "client closed 1000" for c in connections)  # each handed over before its cap
    _matches_truth(session, connections[-1])


@pytest.fixture
def azure_mock(tmp_path: Path) -> Iterator[MockServerProcess]:
    with MockServerProcess(
        time_scale=20, api_key="azure-key-e2e", entra_token="entra-token-e2e", truth=tmp_path / "truth.jsonl"
    ) as mock:
        yield mock


@pytest.mark.parametrize(
    ("path", "protocol_args", "env", "auth"),
    [
        ("/voice-live/realtime", [], {"AZURE_OPENAI_API_KEY": "azure-key-e2e"}, "api-key"),
        ("/openai/v1/realtime", ["--s2s-protocol", "azure"], {"AZURE_OPENAI_AD_TOKEN": "entra-token-e2e"}, "entra"),
    ],
    ids=["voice-live-api-key", "azure-openai-entra-token"],
)
def test_azure_runs_authenticate_as_asked_and_play_their_sessions(
    tmp_path: Path, azure_mock: MockServerProcess, path: str, protocol_args: list[str], env: dict[str, str], auth: str
) -> None:
    run = run_locust(
        tmp_path / "run", "--s2s-url", azure_mock.url_for(path), "--s2s-model", "gpt-realtime", *protocol_args,
        "-u", "2", "-r", "2", "--sessions-per-user", "1", "--turns", "3", "--run-time", "2m",
        "--s2s-pace", "20", "--think-time", "0.05", "--chunk-ms", "100",
        env={"AZURE_OPENAI_API_KEY": "", "OPENAI_API_KEY": "", **env},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    sessions = run.sessions()
    truth = _by_session(tmp_path / "truth.jsonl")
    assert len(sessions) == 2
    for session in sessions:
        (told,) = truth[session["session_id"]]
        assert (told["path"], told["auth"]) == (path, auth)
        assert session["provider"] == "azure" and session["outcome"] == "completed"
        assert [t["assistant_audio_s"] for t in session["turns"]] == pytest.approx(told["turn_audio_s"], abs=0.010)


def test_a_refused_gemini_key_stops_each_user_after_one_try_with_one_line(tmp_path: Path) -> None:
    with MockServerProcess(time_scale=20, api_key="the-right-key") as mock:
        url = mock.url_for("/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent")
        run = run_locust(
            tmp_path / "run", "--s2s-url", url, "--s2s-model", "gpt-realtime", "-u", "2", "-r", "2",
            "--run-time", "1m", *FAST[:2], env={"GEMINI_API_KEY": "a-wrong-key"},
        )  # fmt: skip
    sessions = run.sessions()
    assert len(sessions) == 2  # one try per user: Google's 1007 before setupComplete is not retried
    assert {(s["end_class"], s["close_code"]) for s in sessions} == {("transport.closed_frame", 1007)}
    lines = [line for line in run.stderr.splitlines() if "s2s: connect.rejected" in line]
    assert len(lines) == 1 and "API key not valid" in lines[0]
    assert "a-wrong-key" not in run.stderr + run.stdout + (run.report_dir / "sessions.jsonl").read_text()
