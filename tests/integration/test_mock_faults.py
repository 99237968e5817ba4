"""Every fault the mock can inject, end to end: the real tester against the embedded mock, checked against the
mock's truth log session by session (failure class, failing turn, assistant audio per turn within 10 ms).

One Locust run plays one model per fault, each model injecting its fault at turn 2 of 3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from s2s_users.core.mock.profiles import Fault
from tests.integration.conftest import LocustRun, run_locust
from tests.integration.test_endurance_run import FAST

FAULT_TURN = 2
# fault → (first failure class, what ends the session: None when the session plays all its turns)
EXPECTED: dict[Fault, tuple[str | None, str | None]] = {
    Fault.ZERO_AUDIO_ABORT: ("response.zero_audio", "transport.closed_no_frame"),
    Fault.ZERO_AUDIO: ("response.zero_audio", None),
    Fault.NEAR_SILENT: ("response.near_silent", None),
    Fault.FAILED: ("response.failed", None),
    Fault.INCOMPLETE: ("response.incomplete", None),
    Fault.CANCELLED: ("response.cancelled", None),
    Fault.TRUNCATION: (None, None),
    Fault.ERROR_CLOSE: ("server.error_event", "transport.closed_frame"),
    Fault.CLOSE_1011_MID: ("transport.closed_frame", "transport.closed_frame"),
    Fault.STALL: ("timeout.stall", "timeout.stall"),
    Fault.ABORT_MID: ("transport.closed_no_frame", "transport.closed_no_frame"),
}
EXTRA_MODELS = {
    # the 60-minute cap, scaled: 14 s of server time lands in turn 2 (turns of 6 s audio + 0.5 s to first audio)
    "m-session-cap": 'audio = { dist = "constant", seconds = 6.0 }\nttfa_s = 0.5\nsession_cap_s = 14\n'
    "stream_speed = 1.0\n",
    "m-rejected-429": "reject = { 429 = 1.0 }\n",
    "m-beta": 'flavour = "beta"\n',
}


def _scenario(path: Path) -> list[str]:
    lines = ['name = "every-fault"', "seed = 11", ""]
    models = []
    for fault in Fault:
        model = f"m-{fault.value}"
        models.append(model)
        lines += [f"[models.{model}]", 'audio = { dist = "uniform", low = 2.0, high = 4.0 }',
                  f'faults_at = {{ {FAULT_TURN} = "{fault.value}" }}', ""]  # fmt: skip
    for model, body in EXTRA_MODELS.items():
        models.append(model)
        lines += [f"[models.{model}]", body]
    path.write_text("\n".join(lines))
    return models


@pytest.fixture(scope="module")
def every_fault_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocustRun, dict[str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("faults")
    models = _scenario(folder / "every-fault.toml")
    run = run_locust(
        folder / "run",
        "-u", str(len(models)), "-r", str(len(models)), "--sessions-per-user", "1", "--turns", "3",
        "--mock-scenario", str(folder / "every-fault.toml"), "--turn-timeout", "2", "--run-time", "3m", *FAST,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    truth_lines = (run.report_dir / "mock-truth-local.jsonl").read_text().splitlines()
    truth = [json.loads(line) for line in truth_lines]
    by_model = {line["model"]: line for line in truth}
    assert len(by_model) == len(truth) == len(models), "one truth line per model"
    return run, by_model


def _session(run: LocustRun, model: str) -> dict[str, Any]:
    (session,) = [s for s in run.sessions() if s["model"] == model]
    return session


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
def test_the_tester_reports_each_injected_fault_as_the_mock_did_it(
    every_fault_run: tuple[LocustRun, dict[str, dict[str, Any]]], fault: Fault
) -> None:
    run, truth = every_fault_run
    model = f"m-{fault.value}"
    session, told = _session(run, model), truth[model]
    assert told["faults"] == [{"turn": FAULT_TURN, "fault": fault.value}]
    assert session["session_id"] == told["session_id"]

    failure, end = EXPECTED[fault]
    assert session["failure_class"] == failure
    assert session["failure_turn"] == (FAULT_TURN if failure else None)
    assert session["end_class"] == end
    if fault is Fault.TRUNCATION:
        assert session["context_truncations"] >= 1 and session["outcome"] == "completed"

    # Assistant audio per turn, as measured by the tester against what the mock really sent. A turn the mock
    # never answered (the connection died on its first message) has no audio on either side.
    measured = [t["assistant_audio_s"] for t in session["turns"]]
    sent = told["turn_audio_s"] + [0.0] * (len(measured) - len(told["turn_audio_s"]))
    assert len(measured) >= told["turns"] and measured == pytest.approx(sent, abs=0.010)


def test_the_session_cap_ends_the_session_as_expired_not_as_a_failure(
    every_fault_run: tuple[LocustRun, dict[str, dict[str, Any]]],
) -> None:
    run, truth = every_fault_run
    session = _session(run, "m-session-cap")
    assert truth["m-session-cap"]["end"] == "session_cap"
    assert session["outcome"] == "expired" and session["end_class"] == "session.expired"
    assert session["failure_class"] is None and session["close_code"] == 1001


def test_a_rejected_handshake_is_reported_with_its_status(
    every_fault_run: tuple[LocustRun, dict[str, dict[str, Any]]],
) -> None:
    run, truth = every_fault_run
    session = _session(run, "m-rejected-429")
    assert truth["m-rejected-429"]["rejected"] == 429
    assert session["end_class"] == "connect.rejected" and "HTTP 429" in session["failure_detail"]


def test_beta_event_names_are_understood_and_counted_as_legacy(
    every_fault_run: tuple[LocustRun, dict[str, dict[str, Any]]],
) -> None:
    run, truth = every_fault_run
    session = _session(run, "m-beta")
    assert session["outcome"] == "completed" and session["legacy_events"] > 0
    measured = [t["assistant_audio_s"] for t in session["turns"]]
    assert measured == pytest.approx(truth["m-beta"]["turn_audio_s"], abs=0.010)
