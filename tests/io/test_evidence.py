"""Evidence files: WAVs within the audio budget, folder names safe for a path, a full disk never fatal."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest
import soundfile as sf

from s2s_users.core.config import RecordAudio
from s2s_users.core.engine.script import build_script
from s2s_users.io import evidence as evidence_module
from s2s_users.io.evidence import EvidenceStore, SessionEvidence, folder_bytes
from tests.support.records import session as make_session
from tests.support.records import turn as make_turn
from tests.support.records import with_changes


def test_a_wav_holds_exactly_the_pcm_it_was_given(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, 1_000_000)
    path, note = store.write_wav("evidence/s/turn-001-assistant.wav", b"\x01\x00" * 12_345, 24_000)
    assert note is None and path == "evidence/s/turn-001-assistant.wav"
    info = sf.info(tmp_path / path)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (24_000, 1, 12_345, "PCM_16")


def test_once_the_budget_is_reached_no_more_wavs_are_written_and_the_log_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = EvidenceStore(tmp_path, 50_000)
    written = [store.write_wav(f"evidence/s/turn-{i:03d}.wav", bytes(20_000), 24_000) for i in range(5)]
    assert [path is not None for path, _ in written] == [True, True, False, False, False]
    assert folder_bytes(tmp_path / "evidence") <= 50_000
    assert written[2][1] is not None and "--record-audio-max-mb" in written[2][1]
    assert sum("audio budget" in r.message for r in caplog.records if r.levelno == logging.ERROR) == 1


def test_the_budget_counts_what_other_processes_wrote_into_the_folder(tmp_path: Path) -> None:
    (tmp_path / "evidence" / "other").mkdir(parents=True)
    (tmp_path / "evidence" / "other" / "turn-001-assistant.wav").write_bytes(bytes(40_000))
    path, note = EvidenceStore(tmp_path, 50_000).write_wav("evidence/s/a.wav", bytes(20_000), 24_000)
    assert path is None and note is not None


def test_a_full_disk_is_a_note_and_a_log_line_never_an_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evidence_module.sf, "write", full)
    store = EvidenceStore(tmp_path, 1_000_000)
    path, note = store.write_wav("evidence/s/a.wav", bytes(100), 24_000)
    assert path is None and note is not None and f"errno {errno.ENOSPC}" in note
    assert not (tmp_path / "evidence/s/a.wav").exists()
    assert any("No space left" in r.message for r in caplog.records)


def test_a_session_id_from_the_server_cannot_leave_the_evidence_folder(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, 1_000_000)
    assert store.session_folder("sess_abc", "w1") == "sess_abc"
    assert "/" not in store.session_folder("../../etc/passwd", "w1")
    assert store.session_folder("", "worker-2").startswith("session-worker-2-")


def _session_evidence(tmp_path: Path, mode: RecordAudio) -> SessionEvidence:
    script = build_script([("p1", b"\x00\x10" * 2_400)], 24_000, 20)
    store = EvidenceStore(tmp_path, 1_000_000)
    return SessionEvidence(store, mode, script, 24_000, 24_000, "worker-0", session_id=lambda: "sess_A")


def test_with_all_every_turns_audio_is_written_as_it_ends_and_a_healthy_session_keeps_no_flight(
    tmp_path: Path,
) -> None:
    evidence = _session_evidence(tmp_path, RecordAudio.ALL)
    assert evidence.tape is not None
    for turn in (1, 2):
        evidence.tape.begin(turn)
        evidence.tape.add(b"\x01\x00" * 480 * turn)
        evidence.tape.turn_ended(turn, failed=False)
        evidence.turn_ended(make_turn(turn))
    record = evidence.session_ended(make_session())
    assert record.evidence == tuple(
        f"evidence/sess_A/turn-00{n}-{who}.wav" for n in (1, 2) for who in ("assistant", "user")
    )
    assert sf.info(tmp_path / "evidence/sess_A/turn-002-assistant.wav").duration == 0.04
    assert sf.info(tmp_path / "evidence/sess_A/turn-001-user.wav").duration == 0.1  # 2,400 samples at 24 kHz
    assert not (tmp_path / "evidence/sess_A/flight.jsonl").exists()


def test_with_none_a_failed_session_keeps_its_flight_record_and_no_audio(tmp_path: Path) -> None:
    evidence = _session_evidence(tmp_path, RecordAudio.NONE)
    assert evidence.tape is None
    record = evidence.session_ended(with_changes(make_session(), outcome="failed", failure_class="response.failed"))
    assert record.evidence == ("evidence/sess_A/flight.jsonl",)
