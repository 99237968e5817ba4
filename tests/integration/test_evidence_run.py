"""End to end (#16): the seed's boundary measured with --turns until-failure, and the evidence kept of it, over two
worker processes (each writes its own sessions' evidence into the run folder; the master's report links it)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import soundfile as sf

from tests.integration.conftest import private_master_port
from tests.integration.test_endurance_run import by_model

FASTER = ["--s2s-pace", "40", "--mock-time-scale", "40", "--think-time", "0.05", "--chunk-ms", "100"]


def test_until_failure_measures_the_seeds_boundary_and_keeps_the_evidence_of_each_failure(locust_run: Any) -> None:
    run = locust_run(
        "-u", "4", "-r", "4", "--processes", "2", *private_master_port(), "--sessions-per-user", "1",
        "--turns", "until-failure",
        "--max-session-minutes", "0.2", "--mock-scenario", "seed.toml", "--run-time", "2m", *FASTER,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    sessions = by_model(run.sessions())
    folder: Path = run.report_dir

    # gpt-realtime-2: every session fails at about 5 minutes of assistant audio, and the report says measured.
    failing = sessions["gpt-realtime-2"]
    assert len(failing) == 2 and {s["worker"] for s in failing} == {"worker-0", "worker-1"}
    truth = {
        t["session_id"]: t
        for path in folder.glob("mock-truth-*.jsonl")
        for t in map(json.loads, path.read_text().splitlines())
    }
    for session in failing:
        assert session["outcome"] == "failed" and session["failure_class"] == "response.zero_audio"
        assert 285 <= session["capacity_to_silent_failure_s"] <= 315
        assert session["failure_turn"] == truth[session["session_id"]]["faults"][0]["turn"]
    # gpt-realtime: every session ends at the safety bound, censored; the report calls its capacity a lower bound.
    for session in sessions["gpt-realtime"]:
        assert session["outcome"] == "bounded" and session["failure_class"] is None and session["silent_censored"]
        assert 12 <= session["ended_at"] - session["started_at"] < 20
    assert "gpt-realtime-2: 5.0" in run.stdout and "min, measured (2 of 2 sessions failed silently" in run.stdout
    assert re.search(r"gpt-realtime: more than \d+\.\d\d min, lower bound \(2 sessions", run.stdout)

    # The evidence of each failure: its wire trail and the WAVs of the turn at the failure and the one before it.
    report_md, report_html = (folder / "report.md").read_text(), (folder / "report.html").read_text()
    for session in failing:
        turn = session["failure_turn"]
        files = session["evidence"]
        assert [f.rsplit("/", 1)[1] for f in files] == [
            "flight.jsonl", *(f"turn-{n:03d}-{who}.wav" for n in (turn - 1, turn) for who in ("assistant", "user"))
        ]  # fmt: skip
        for file in files:
            assert (folder / file).is_file()
            assert f"({file})" in report_md and f'href="{file}"' in report_html
        trail = [json.loads(line) for line in (folder / files[0]).read_text().splitlines()]
        kinds = [e["kind"] for e in trail]
        done = max(i for i, kind in enumerate(kinds) if kind == "response.done")
        assert trail[done]["note"] == "status completed, 0 audio bytes in this response"
        assert "audio.append" in kinds[done:] and "response.created" in kinds[:done]
        assert "no close frame" in " ".join(str(e["note"]) for e in trail[done:])
        for n in (turn - 1, turn):
            wav = sf.info(folder / [f for f in files if f.endswith(f"turn-{n:03d}-assistant.wav")][0])
            assert abs(wav.duration - session["turns"][n - 1]["assistant_audio_s"]) <= 0.010
            assert wav.samplerate == 24_000 and wav.channels == 1 and wav.subtype == "PCM_16"
    assert not any(s["evidence"] for s in sessions["gpt-realtime"])

    # What repeating the run needs: options without secrets, the prompts' hashes, the scenario file.
    info = json.loads((folder / "run.json").read_text())
    assert info["options"]["turns"] == "until-failure" and "s2s_api_key" not in info["options"]
    assert info["prompts"][0]["file"] == "manifest.json" and len(info["prompts"][1]["sha256"]) == 64
    assert (folder / info["mock_scenario"]).read_text().startswith("# The seed finding")
