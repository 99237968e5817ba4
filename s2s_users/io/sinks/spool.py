"""A bounded on-disk spool of line-protocol points, replayed in order when the database answers again.

The spool is a directory of append-only *segment* files, ``0000000001.lp``, ``0000000002.lp``, ...: one
batch of line-protocol lines per file, oldest first. A segment is written to a temporary name and renamed, so
a crash never leaves half a segment behind; it is deleted only after the database acknowledged it. Because
every point carries an explicit timestamp, writing a segment twice (acknowledgement lost) stores it once.

The spool is bounded by ``max_bytes``: a batch that does not fit is cut, the rest is *dropped and counted*,
never silently (the owner logs it and reports the count). No I/O library here beyond files.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SEGMENT_SUFFIX = ".lp"
_TMP_SUFFIX = ".tmp"


@dataclass(frozen=True, slots=True)
class Segment:
    """One spooled batch on disk."""

    path: Path
    points: int
    size: int

    def read_lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines()


@dataclass(frozen=True, slots=True)
class SpoolAppend:
    """What ``Spool.append`` did with a batch."""

    stored: int
    dropped: int


class Spool:
    """Segments of line protocol under ``directory``, at most ``max_bytes`` of them (thread-safe)."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._segments: list[Segment] = []
        self._next_number = 1
        if directory.is_dir():
            for path in segment_paths(directory):
                self._segments.append(_load_segment(path))
                self._next_number = max(self._next_number, int(path.stem) + 1)

    # --- state ------------------------------------------------------------------------------------------

    @property
    def points(self) -> int:
        """Points waiting on disk."""
        with self._lock:
            return sum(segment.points for segment in self._segments)

    @property
    def size(self) -> int:
        """Bytes waiting on disk."""
        with self._lock:
            return sum(segment.size for segment in self._segments)

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._segments)

    # --- writing ----------------------------------------------------------------------------------------

    def append(self, lines: list[str]) -> SpoolAppend:
        """Store ``lines`` as one new segment, cut to what fits under ``max_bytes``."""
        if not lines:
            return SpoolAppend(0, 0)
        with self._lock:
            room = self.max_bytes - sum(segment.size for segment in self._segments)
            kept: list[str] = []
            used = 0
            for line in lines:
                cost = len(line.encode("utf-8")) + 1
                if used + cost > room:
                    break
                kept.append(line)
                used += cost
            if kept:
                self.directory.mkdir(parents=True, exist_ok=True)
                path = self.directory / f"{self._next_number:010d}{SEGMENT_SUFFIX}"
                self._next_number += 1
                tmp = path.with_suffix(_TMP_SUFFIX)
                with tmp.open("w", encoding="utf-8") as handle:
                    handle.write("".join(line + "\n" for line in kept))
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
                self._segments.append(Segment(path, len(kept), used))
            return SpoolAppend(stored=len(kept), dropped=len(lines) - len(kept))

    # --- replaying --------------------------------------------------------------------------------------

    def oldest(self) -> Segment | None:
        """The segment to replay next, or None when the spool is empty."""
        with self._lock:
            return self._segments[0] if self._segments else None

    def remove(self, segment: Segment) -> None:
        """The database acknowledged ``segment``: forget it."""
        with self._lock:
            self._segments = [kept for kept in self._segments if kept.path != segment.path]
        segment.path.unlink(missing_ok=True)


def segment_paths(directory: Path) -> list[Path]:
    """Segment files directly in ``directory``, oldest first."""
    return sorted(
        (path for path in directory.iterdir() if path.suffix == SEGMENT_SUFFIX and path.stem.isdigit()),
        key=lambda path: int(path.stem),
    )


def spool_dirs(root: Path) -> Iterator[Path]:
    """``root`` and every directory under it that holds segments (a run's spool has one per worker)."""
    if not root.is_dir():
        return
    candidates = [root, *sorted(path for path in root.rglob("*") if path.is_dir())]
    for directory in candidates:
        if segment_paths(directory):
            yield directory


def _load_segment(path: Path) -> Segment:
    data = path.read_bytes()
    return Segment(path, data.count(b"\n"), len(data))
