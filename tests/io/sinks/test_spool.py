"""The on-disk spool: ordered segments, bounded, reopened after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2s_users.io.sinks.spool import Spool, spool_dirs
from tests.support.influx import ServiceError, find_binary


def test_segments_come_back_oldest_first_and_leave_when_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=10_000)
    spool.append(["a 1", "b 2"])
    spool.append(["c 3"])
    assert spool.points == 3
    first = spool.oldest()
    assert first is not None and first.read_lines() == ["a 1", "b 2"]
    spool.remove(first)
    second = spool.oldest()
    assert second is not None and second.read_lines() == ["c 3"]
    spool.remove(second)
    assert spool.oldest() is None and not spool and spool.points == 0
    assert list((tmp_path / "spool").iterdir()) == []


def test_a_reopened_spool_finds_its_segments_and_keeps_numbering_after_them(tmp_path: Path) -> None:
    Spool(tmp_path, max_bytes=10_000).append(["a 1"])
    Spool(tmp_path, max_bytes=10_000).append(["b 2"])
    spool = Spool(tmp_path, max_bytes=10_000)
    spool.append(["c 3"])
    lines = []
    while (segment := spool.oldest()) is not None:
        lines += segment.read_lines()
        spool.remove(segment)
    assert lines == ["a 1", "b 2", "c 3"]


def test_a_full_spool_keeps_what_fits_and_counts_the_rest_as_dropped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=20)  # each "xxxxxxxx" line costs 9 bytes
    result = spool.append(["xxxxxxxx"] * 5)
    assert (result.stored, result.dropped) == (2, 3)
    assert spool.append(["xxxxxxxx"]).dropped == 1
    assert spool.size <= 20 and spool.points == 2


def test_spool_dirs_finds_every_worker_folder_under_a_run(tmp_path: Path) -> None:
    Spool(tmp_path / "w1", 1000).append(["a 1"])
    Spool(tmp_path / "w2", 1000).append(["b 1"])
    (tmp_path / "empty").mkdir()
    assert list(spool_dirs(tmp_path)) == [tmp_path / "w1", tmp_path / "w2"]
    assert list(spool_dirs(tmp_path / "w1")) == [tmp_path / "w1"]


def test_a_missing_influxd_or_nginx_fails_with_the_packages_to_install() -> None:
    with pytest.raises(ServiceError, match=r"apt-get install influxdb nginx-light"):
        find_binary("influxd-that-is-not-installed", "/nonexistent/influxd")
