"""The stability benchmark, short: half a simulated hour of a real distributed soak (a master, two workers, their
mocks), sampled every second. Memory is the benchmark's business (its slope is reported, never asserted here); the
command, its results files, the sessions and the open file descriptors are asserted.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from benchmarks.stability import FD_MARGIN, MB, Sample, Watched, summarize

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ["master", "worker-0", "mock of worker-0", "worker-1", "mock of worker-1"]


@pytest.mark.timeout(300)
def test_a_short_soak_reports_every_process_and_its_file_descriptors_do_not_grow(tmp_path: Path) -> None:
    out = tmp_path / "results"
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.stability", "--simulated-hours", "0.5", "--workers", "2",
         "--users", "8", "--out", str(out), "--keep-run", str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    print(f"stability (short): {time.monotonic() - started:.0f} s of wall time\n{run.stdout}")
    assert run.returncode == 0, run.stderr[-3000:]

    results = json.loads((out / "stability.json").read_text())
    markdown = (out / "stability.md").read_text()
    rows = {row["process"]: row for row in results["rows"]}
    assert list(rows) == PROCESSES, "one row per process: the master, each worker, each worker's mock"
    for name in PROCESSES:
        assert f"| {name} |" in markdown and f"| {name} |" in run.stdout
    meta = results["meta"]
    assert meta["command"].startswith("python -m benchmarks.stability --simulated-hours 0.5")
    assert meta["cpu_model"] and meta["versions"]["locust"]

    # Sessions opened and closed while the run ran (the 5-minute cap alone ends one per user every 5 s of wall
    # time), and not only the ones the end of the run cut short.
    assert meta["sessions_during_run"] > 0
    assert sum(n for end, n in meta["sessions"]["ends"].items() if end != "harness.stopped") > 0

    for name, row in rows.items():
        assert row["samples"] >= 10, f"{name}: too few samples to compare the halves"
        # The sockets of a process come and go with its sessions; more of them later on is a leak.
        assert row["fds_second_max"] <= row["fds_first_max"] + FD_MARGIN, (name, row["fds_series"])


def _process(samples: list[Sample]) -> Watched:
    return Watched(psutil.Process(), "worker", name="worker-0", samples=samples)


def _samples(rss_mb_per_sim_h: float = 0.0, fds_per_sim_h: float = 0.0) -> list[Sample]:
    """Two simulated hours at 60x, one sample a wall second; FDs and RSS wobble with the sessions in flight."""
    return [
        Sample(t=float(t), rss=int((100 + (t % 7) * 0.3 + rss_mb_per_sim_h * t / 60) * MB),
               fds=30 + t % 5 + int(fds_per_sim_h * t / 60), threads=4, cpu=20.0, sessions=t)
        for t in range(120)
    ]  # fmt: skip


def test_the_verdict_calls_a_wobbling_process_flat_and_reports_rss_or_fds_that_grow() -> None:
    flat = summarize(_process(_samples()), window_s=200, time_scale=60)
    assert flat is not None and flat.verdict == "flat"
    assert abs(flat.rss_slope_mb_per_sim_h) < 0.2 and (flat.fds_first_min, flat.fds_first_max) == (30, 34)

    growing = summarize(_process(_samples(rss_mb_per_sim_h=3.0)), window_s=200, time_scale=60)
    assert growing is not None and growing.verdict == "RSS grows"
    assert growing.rss_slope_mb_per_sim_h == pytest.approx(3.0, abs=0.2)

    leaking = summarize(_process(_samples(fds_per_sim_h=10.0)), window_s=200, time_scale=60)
    assert leaking is not None and leaking.verdict == "FDs grow"


def test_only_the_runs_own_samples_count_after_the_warm_up() -> None:
    samples = _samples()
    samples[3] = dataclasses.replace(samples[3], rss=900 * MB)  # start-up: in the warm-up, dropped
    samples[-1] = dataclasses.replace(samples[-1], rss=900 * MB, fds=300)  # the report at the end: after the window
    row = summarize(_process(samples), window_s=118.5, time_scale=60)
    assert row is not None and row.verdict == "flat"
    assert row.samples == 119 - int(119 * 0.2) and row.rss_max_mb < 110 and row.fds_second_max <= 34
