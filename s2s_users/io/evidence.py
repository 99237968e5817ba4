"""Evidence of a session beyond its record: its wire trail and its audio, written into the run folder.

Each process that plays sessions writes its own sessions' evidence into ``<run folder>/evidence/<session>/``
(the folder every process of a run writes to, as the mock's truth logs are), and puts the paths, relative to the
run folder, in the session's record, which travels to the record owner as always: the report links what was
written, whichever worker wrote it.

- ``flight.jsonl``: a failed session's last wire events (``core/metrics/flight.py``).
- ``turn-NNN-assistant.wav``: the assistant's audio of a turn (PCM16 mono at the provider's output rate, the
  bytes the turn's record counts); ``turn-NNN-user.wav``: the prompt as it was sent that turn.

The audio is bounded by ``--record-audio-max-mb``, counted over the whole ``evidence`` folder (every process
writes there: a process re-reads the folder's size every few seconds and adds what it wrote since). Once the budget
is reached no more WAVs are written, which the log says once and each record concerned says in
``evidence_note``; a write that fails (a full disk) is said the same way and never ends the session or the run.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from s2s_users.core.config import RecordAudio
from s2s_users.core.engine.script import Script
from s2s_users.core.metrics.flight import FLIGHT_FILE, FlightRecorder
from s2s_users.core.metrics.records import SessionOutcome, SessionRecord, TurnRecord
from s2s_users.core.metrics.tape import AudioTape

log = logging.getLogger("s2s_users")

EVIDENCE_DIR = "evidence"
#: How often a process re-reads the evidence folder's size (other processes write there too).
RESCAN_S = 5.0
_WAV_HEADER = 44
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def assistant_wav(turn: int) -> str:
    return f"turn-{turn:03d}-assistant.wav"


def user_wav(turn: int) -> str:
    return f"turn-{turn:03d}-user.wav"


def folder_bytes(root: Path) -> int:
    """What the files under ``root`` hold, in bytes (0 when there is no folder)."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                pass  # written and removed by another process meanwhile
    return total


class EvidenceStore:
    """One process's writer into the run's evidence folder, within the audio budget; never raises on a write."""

    def __init__(self, run_dir: Path, max_audio_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.run_dir = run_dir
        self.root = run_dir / EVIDENCE_DIR
        self.max_audio_bytes = max_audio_bytes
        self._clock = clock
        self._scanned_at: float | None = None
        self._base = 0
        self._since = 0
        self._said: set[str] = set()

    def used_bytes(self) -> int:
        now = self._clock()
        if self._scanned_at is None or now - self._scanned_at >= RESCAN_S:
            self._base, self._since, self._scanned_at = folder_bytes(self.root), 0, now
        return self._base + self._since

    def session_folder(self, session_id: str, worker: str) -> str:
        """A folder name for the session (its id, made safe for a path; a fresh one for a session without)."""
        name = _UNSAFE.sub("_", session_id)[:80].strip("._")
        if not name or (self.root / name).exists():
            name = f"{name or 'session'}-{worker}-{uuid.uuid4().hex[:8]}"
        return name

    def write_text(self, relative: str, text: str) -> tuple[str | None, str | None]:
        """(path written, or None; a note when it was not)."""

        def write(path: Path) -> None:
            path.write_text(text, encoding="utf-8")

        return self._write(relative, write, 0)

    def write_wav(self, relative: str, pcm: bytes, rate: int) -> tuple[str | None, str | None]:
        size = _WAV_HEADER + len(pcm)
        if self.used_bytes() + size > self.max_audio_bytes:
            mb = self.max_audio_bytes / 1e6
            return None, self._say(f"the audio budget of {mb:g} MB (--record-audio-max-mb) is reached: no more WAVs")
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")

        def write(path: Path) -> None:
            sf.write(path, samples, rate, subtype="PCM_16", format="WAV")

        return self._write(relative, write, size)

    def _write(self, relative: str, write: Callable[[Path], None], size: int) -> tuple[str | None, str | None]:
        path = self.run_dir / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
        except (OSError, RuntimeError) as exc:  # soundfile raises its own (RuntimeError) errors on a full disk
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
            errno = getattr(exc, "errno", None)
            return None, self._say(f"evidence could not be written ({type(exc).__name__}, errno {errno}): {exc}")
        self._since += size
        return relative, None

    def _say(self, note: str) -> str:
        if note not in self._said:
            self._said.add(note)
            log.error("s2s: %s", note)
        return note


class SessionEvidence:
    """What one session keeps of itself, and writes when its end calls for it (``io.session.Evidence``)."""

    def __init__(
        self,
        store: EvidenceStore,
        mode: RecordAudio,
        script: Script,
        input_rate: int,
        output_rate: int,
        worker: str,
        session_id: Callable[[], str],
        wall_offset: float = 0.0,
    ) -> None:
        """``session_id`` gives the session's id once the server said it (it names the session's folder)."""
        self.store = store
        self.mode = mode
        self.script = script
        self.input_rate = input_rate
        self.output_rate = output_rate
        self.worker = worker
        self.flight = FlightRecorder(wall_offset=wall_offset)
        self.tape = None if mode is RecordAudio.NONE else AudioTape(keep_all=mode is RecordAudio.ALL)
        self._session_id = session_id
        self._folder: str | None = None
        self._written: list[str] = []
        self._notes: list[str] = []

    def _relative(self, name: str) -> str:
        if self._folder is None:
            self._folder = self.store.session_folder(self._session_id(), self.worker)
        return f"{EVIDENCE_DIR}/{self._folder}/{name}"

    def _keep(self, written: tuple[str | None, str | None]) -> None:
        path, note = written
        if path is not None:
            self._written.append(path)
        if note is not None and note not in self._notes:
            self._notes.append(note)

    def _write_turn(self, turn: int, pcm: bytes) -> None:
        self._keep(self.store.write_wav(self._relative(assistant_wav(turn)), pcm, self.output_rate))
        self._keep(self.store.write_wav(self._relative(user_wav(turn)), self._prompt_pcm(turn), self.input_rate))

    def _prompt_pcm(self, turn: int) -> bytes:
        prompt = self.script.prompt_for_turn(turn)
        return b"".join(base64.b64decode(chunk) for chunk in prompt.chunks_b64[: prompt.prompt_chunks])

    def turn_ended(self, turn: TurnRecord) -> None:
        """``all``: the audio of the turns that ended is written now (and forgotten)."""
        if self.tape is not None:
            for index, pcm in self.tape.take_finished():
                self._write_turn(index, pcm)

    def session_ended(self, record: SessionRecord) -> SessionRecord:
        if self.tape is not None:
            for index, pcm in self.tape.take_finished():
                self._write_turn(index, pcm)
        if record.outcome == SessionOutcome.FAILED:
            self._keep(self.store.write_text(self._relative(FLIGHT_FILE), self.flight.to_jsonl()))
            if self.tape is not None and not self.tape.keep_all:
                for index, pcm in self.tape.held():
                    self._write_turn(index, pcm)
        if not self._written and not self._notes:
            return record
        return dataclasses.replace(record, evidence=tuple(self._written), evidence_note="; ".join(self._notes) or None)
