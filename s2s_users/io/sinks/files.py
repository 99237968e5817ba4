"""The embedded default sink: one JSON line per session in ``sessions.jsonl``."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import BinaryIO

from s2s_users.core.metrics.records import SESSIONS_FILE, SessionLabels, SessionRecord, TurnRecord


class JsonlSessionSink:
    """Appends each finished session as one line, written through at once so a crash loses nothing written.

    A line that cannot be written (a full disk, a folder that went away) is never left half on disk: the file is cut
    back to its last whole line, ``write_error`` says why, and that record and every later one stay in
    ``unwritten`` (in memory), so that the end of the run still counts them. The run goes on.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / SESSIONS_FILE
        self.sessions_written = 0
        self.unwritten: list[SessionRecord] = []
        self.write_error: str | None = None
        self._file: BinaryIO | None = None
        self._whole = 0  # bytes of whole lines in the file

    def write_turn(self, labels: SessionLabels, session_id: str, turn: TurnRecord) -> None:
        """Turns travel inside their session's line."""

    def write_session(self, record: SessionRecord) -> None:
        if self.write_error is None:
            line = (json.dumps(record.to_dict(), separators=(",", ":")) + "\n").encode("utf-8")
            try:
                self._append(line)
                self.sessions_written += 1
                return
            except OSError as exc:
                self.write_error = exc.strerror or str(exc)
                self._cut_back()
        self.unwritten.append(record)

    def _append(self, line: bytes) -> None:
        if self._file is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab", buffering=0)
            self._whole = self._file.seek(0, os.SEEK_END)
        view = memoryview(line)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]
        self._whole += len(line)

    def _cut_back(self) -> None:
        """Drop a partly written line (truncating frees space, even on a full disk)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), self._whole)
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
