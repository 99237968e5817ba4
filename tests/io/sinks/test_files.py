"""sessions.jsonl on a disk that fills up: no half line on disk, every record still counted."""

from __future__ import annotations

import json
from pathlib import Path

from s2s_users.io.reports import load_sessions
from s2s_users.io.sinks.files import JsonlSessionSink
from tests.support.records import session as make_session


def test_a_write_that_fails_cuts_the_file_back_to_whole_lines_and_keeps_the_records(tmp_path: Path) -> None:
    sink = JsonlSessionSink(tmp_path)
    sink.write_session(make_session("s1"))
    size = sink.path.stat().st_size
    assert sink._file is not None

    class FullDisk:  # the file object's write, as on a full disk: part of the line, then ENOSPC
        def __init__(self, real: object) -> None:
            self.real = real
            self.calls = 0

        def write(self, data: memoryview) -> int:
            self.calls += 1
            if self.calls == 1:
                return int(self.real.write(data[:10]))  # type: ignore[attr-defined]
            raise OSError(28, "No space left on device")

        def __getattr__(self, name: str) -> object:
            return getattr(self.real, name)

    sink._file = FullDisk(sink._file)  # type: ignore[assignment]
    sink.write_session(make_session("s2"))
    sink.write_session(make_session("s3"))
    sink.close()
    assert sink.write_error == "No space left on device"
    assert sink.path.stat().st_size == size  # the half line is gone
    assert [r.session_id for r in load_sessions(tmp_path)] == ["s1"]
    assert [r.session_id for r in sink.unwritten] == ["s2", "s3"]
    assert sink.sessions_written == 1
    assert json.loads(sink.path.read_text())["session_id"] == "s1"
