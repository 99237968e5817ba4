"""The generator benchmark still runs and writes its results (its speed is in benchmarks/results/, never here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_generator_benchmark_runs_both_clients_and_writes_its_results(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.generator_capacity", "--smoke", "--priority", "normal",
         "--results-dir", str(tmp_path), "--name", "smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| client | chunk | turns | sessions/core |" in done.stdout  # the table on stdout
    results = json.loads((tmp_path / "smoke.json").read_text())
    meta = results["meta"]
    assert meta["cpu_model"] and meta["cpus"] and meta["date"] and meta["versions"]["locust"]
    assert {"sessions_per_core_20ms", "reference_sessions_per_core_20ms"} <= set(meta["headline"])
    rows = results["rows"]
    assert {row["client"] for row in rows} == {"s2s_users", "asyncio"}
    assert all(row["sessions"] == 4 and row["chunks"] > 0 and row["errors"] == 0 for row in rows)
    assert (tmp_path / "smoke.md").read_text().startswith("# Generator capacity")
