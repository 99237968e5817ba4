"""Where a Locust worker's CPU goes: CPU per session-second at one load, and (``--profile``) its cProfile top.

Run from the repository root:

    .venv/bin/python -m benchmarks.generator_profile [--sessions 60] [--chunk-ms 20] [--window 20] [--profile]

The same run as one level of ``generator_capacity`` (the embedded mock pinned to CPU 0, one headless Locust
process on ``locustfiles/endurance.py`` pinned to CPU 1, at normal priority), for comparing two versions of the
client quickly on a machine that is not quiet: it reports the client's CPU (user + system, from ``psutil``) per
session-second over the window, which other work on the machine moves by a few per cent only (its lag it moves a
lot, so lag is not reported): compare two versions in alternating runs, a few of each. ``--profile`` runs the
client under cProfile in a second run (the profiler's own cost inflates that run's CPU, so its figure is not the
one to compare) and prints the top functions by own time and by cumulative time. ``--py-spy BIN`` samples a third
run with py-spy (``pip install py-spy`` anywhere: it attaches by pid), own and inclusive samples per line; neither
profiler knows greenlets, so the time a greenlet spends switched out shows as the hub's or its wait's own time.
Nothing is written to ``results/``.
"""

from __future__ import annotations

import argparse
import json
import pstats
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import psutil

from benchmarks import generator_runs as runs
from benchmarks.generator_runs import MockFarm


def run_client(
    farm: MockFarm,
    scratch: Path,
    sessions: int,
    chunk_ms: int,
    settle_s: float,
    window_s: float,
    profile: Path | None,
    sampler: str | None = None,
) -> float:
    """One headless Locust run; its CPU µs per session-second over the window."""
    report_dir = scratch / f"tester-{sessions}-{chunk_ms}-{'profile' if profile else 'plain'}"
    locust = str(Path(sys.executable).with_name("locust"))
    prefix = [sys.executable, "-m", "cProfile", "-o", str(profile), locust] if profile else [locust]
    command = [*prefix, "-f", str(runs.LOCUSTFILE), "--headless", "--only-summary", "--exit-code-on-error", "0",
               "--reset-stats", "-u", str(sessions), "-r", "50", "--run-time", "1h", "--s2s-url", farm.url,
               "--s2s-api-key", runs.API_KEY, "--s2s-model", runs.MODEL, "--chunk-ms", str(chunk_ms),
               "--turn-mode", "manual", "--think-time", "1", "--turns", "100000",
               "--report-dir", str(report_dir)]  # fmt: skip
    with runs._child(command, runs.SPAWNED, "stderr") as (process, lines):
        if not lines.seen.wait(sessions / 50 + 120):
            raise RuntimeError("the users were not spawned: " + "".join(lines.tail[-10:]))
        spy = None
        if sampler:  # py-spy samples the window (it stops the process briefly per sample: its run's CPU is inflated)
            seconds, out = str(int(settle_s + window_s)), str(scratch / "spy.txt")
            spy = subprocess.Popen([sampler, "record", "--pid", str(process.pid), "--duration", seconds,
                                    "--rate", "100", "--nonblocking", "--format", "raw", "--output", out],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        cpu, _, mock_cpu, rss = runs._measure_window([psutil.Process(process.pid)], [], farm, settle_s, window_s)
        if spy is not None:
            spy.wait()
        runs._stop(process, lines)
    outcomes: Counter[str] = Counter()
    for line in (report_dir / "sessions.jsonl").read_text().splitlines():
        outcomes.update(turn["outcome"] for turn in json.loads(line)["turns"])
    print(f"  mock CPU {mock_cpu:.1f} %, client RSS {rss / 1e6:.1f} MB, turns {dict(outcomes)}", file=sys.stderr)
    return cpu / 100 * 1e6 / sessions


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generator_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--chunk-ms", type=int, default=20)
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after every session started")
    parser.add_argument("--repeats", type=int, default=1, help="plain runs (the figure of each is printed)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also a run under cProfile: its top functions by own and cumulative time and by calls",
    )
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--py-spy", default="", help="a py-spy binary: also a sampled run, own and inclusive samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s2s-generator-profile-") as scratch_dir:
        scratch = Path(scratch_dir)
        with MockFarm(scratch) as farm:
            for repeat in range(args.repeats):
                cost = run_client(farm, scratch, args.sessions, args.chunk_ms, args.settle, args.window, None)
                print(f"run {repeat + 1}: {args.sessions} sessions at {args.chunk_ms} ms chunks: "
                      f"{cost:.0f} CPU µs per session-second", flush=True)  # fmt: skip
            if args.profile:
                out = scratch / "client.prof"
                cost = run_client(farm, scratch, args.sessions, args.chunk_ms, args.settle, args.window, out)
                print(f"under cProfile: {cost:.0f} CPU µs per session-second (inflated by the profiler)")
                stats = pstats.Stats(str(out))
                for order in ("tottime", "cumulative", "ncalls"):
                    stats.sort_stats(order).print_stats(args.top)
            if args.py_spy:
                cost = run_client(
                    farm, scratch, args.sessions, args.chunk_ms, args.settle, args.window, None, args.py_spy
                )
                print(f"under py-spy: {cost:.0f} CPU µs per session-second (inflated by the sampler)")
                print_samples(scratch / "spy.txt", args.top)
    return 0


def print_samples(path: Path, top: int) -> None:
    """py-spy's collapsed stacks: the top frames by own samples and by inclusive samples (idle samples left out)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        own[frames[-1]] += n
        by_file[_source_file(frames[-1])] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"{total} samples")
    for title, counter in (("own", own), ("inclusive", inclusive), ("own, per file", by_file)):
        print(f"--- by {title} samples")
        for frame, n in counter.most_common(top):
            print(f"{n / total * 100:6.1f} %  {frame[:150]}")


def _source_file(frame: str) -> str:
    """``function (path/to/file.py:12)`` → the file's path from its package folder on (``site-packages/`` cut)."""
    location = frame.rpartition(" (")[2].rstrip(")").rpartition(":")[0] or frame
    return location.rpartition("site-packages/")[2].removeprefix(f"{runs.ROOT}/")


if __name__ == "__main__":
    raise SystemExit(main())
