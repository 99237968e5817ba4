"""The embedded default sink: one JSON line per session in ``sessions.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from s2s_users.core.metrics.records import SESSIONS_FILE, SessionLabels, SessionRecord, TurnRecord


class JsonlSessionSink:
    """Appends each finished session as one line; flushed per line so a crash loses nothing written."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / SESSIONS_FILE
        self.sessions_written = 0
        self._file: TextIO | None = None

    def write_turn(self, labels: SessionLabels, session_id: str, turn: TurnRecord) -> None:
        """Turns travel inside their session's line."""

    def write_session(self, record: SessionRecord) -> None:
        if self._file is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(record.to_dict(), separators=(",", ":")) + "\n")
        self._file.flush()
        self.sessions_written += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
