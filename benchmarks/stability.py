"""Long-run stability: memory and open file descriptors of the master, the workers and their mocks over a soak.

Run from the repository root:  .venv/bin/python -m benchmarks.stability [--simulated-hours 6] [--workers 2]

A real distributed run, as a user starts one: ``locust --headless --processes N`` (one master, N forked workers,
each with its embedded mock in a child process), time-scaled (``--mock-time-scale S --s2s-pace S``, run time =
simulated hours / S), users playing sessions back to back (``--sessions-per-user 0``) against a scenario whose
sessions end by themselves: they complete their turns, hit the seed's ceiling (zero audio, then a TCP abort), hit
a session cap (close 1001), or are refused at the handshake (429). So thousands of sessions open and close.

Every ``--sample-s`` this process samples, for the master, each worker and each worker's mock: RSS, open file
descriptors, threads, CPU, and the sessions recorded so far (lines of the master's ``sessions.jsonl``). Only the
samples of the run itself count (not start-up, not the final drain and report), and the first 20 % of those are
the warm-up. Per process: RSS at the start and the end of what is left, its least-squares slope in MB per
simulated hour, and the open file descriptors' min/max in the first and the second half.

The verdict only reports: "flat" when the RSS slope is below 1 MB per simulated hour and the second half's FDs
never exceed the first half's max + 4. The table, a results JSON and a Markdown copy go to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from benchmarks.results import RESULTS, markdown_table, publish

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "locustfiles" / "endurance.py"
LOCUST = Path(sys.executable).with_name("locust")
WARM_UP = 0.20
FLAT_SLOPE_MB_PER_SIM_H = 1.0
FD_MARGIN = 4
SERIES_POINTS = 20
MB = 1_000_000
STOP_LINE = b"--run-time limit reached"  # Locust's master logs it when the run time is up

#: The service the soak plays against. Audio streams in real time (times the time scale) in 500 ms deltas, so a
#: 2-core machine keeps up; the three models end their sessions in three different ways.
SCENARIO = """
name = "stability"
seed = 11

# Healthy: sessions play all their --turns; now and then a failed response or a truncated context.
[models.gpt-realtime]
audio = { dist = "lognormal", median = 6.05, p95 = 8.15, min = 2.5, max = 9.5 }
ttfa_s = 0.5
stream_speed = 1.0
delta_ms = 500
faults = { failed = 0.01, truncation = 0.01 }

# The seed: at 300 s of assistant audio, a completed response with zero audio, then a TCP abort (no close frame).
[models.gpt-realtime-2]
audio = { dist = "lognormal", median = 9.65, p95 = 14.0, min = 3.0, max = 15.0 }
ttfa_s = 0.5
stream_speed = 1.0
delta_ms = 500
ceiling_s = 300

# A session cap of 5 minutes (close 1001), and 2 % of the handshakes refused with HTTP 429.
[models.gpt-realtime-mini]
audio = { dist = "uniform", low = 2.0, high = 8.0 }
ttfa_s = 0.4
stream_speed = 1.0
delta_ms = 500
session_cap_s = 300
reject = { 429 = 0.02 }
"""


@dataclasses.dataclass(frozen=True)
class Sample:
    t: float  # wall seconds since the start of the run (the first mock seen)
    rss: int
    fds: int
    threads: int
    cpu: float
    sessions: int


@dataclasses.dataclass
class Watched:
    """One process of the run, as sampled."""

    process: psutil.Process
    role: str  # master | worker | mock
    parent: int = 0
    name: str = ""
    samples: list[Sample] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Row:
    process: str
    pid: int
    samples: int
    rss_start_mb: float
    rss_end_mb: float
    rss_max_mb: float
    rss_slope_mb_per_sim_h: float
    fds_first_min: int
    fds_first_max: int
    fds_second_min: int
    fds_second_max: int
    threads_min: int
    threads_max: int
    cpu_percent: float
    verdict: str
    rss_mb_series: list[float]
    fds_series: list[int]


class LineCounter:
    """Lines of a file that another process appends to (sessions.jsonl, Locust's log), read incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._offset = 0

    def poll(self, marker: bytes = b"") -> int:
        """Lines so far; with ``marker``: how many of the new lines hold it."""
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return 0 if marker else self.count
        data = data[: data.rfind(b"\n") + 1]  # whole lines only
        self.count += data.count(b"\n")
        self._offset += len(data)
        return data.count(marker) if marker else self.count


class Sampler:
    """Finds the run's processes (master, its forked workers, their mocks) and samples each of them."""

    def __init__(self, master_pid: int, sessions: LineCounter, log: LineCounter) -> None:
        self.master = psutil.Process(master_pid)
        self.watched: dict[int, Watched] = {master_pid: Watched(self.master, "master", name="master")}
        self.sessions = sessions
        self.log = log
        self.started: float | None = None  # monotonic time the first mock was seen: the users' test started
        self.stopped: float | None = None  # seconds from the start to the master's "run time reached" line
        self.load: list[tuple[float, float]] = []  # (t, the machine's 1-minute load average): how busy it was

    def discover(self) -> None:
        master = self.master
        try:
            workers = master.children()
        except psutil.Error:
            return
        for worker in workers:
            if worker.pid not in self.watched:
                self.watched[worker.pid] = Watched(worker, "worker", parent=master.pid)
                worker.cpu_percent()
            try:
                children = worker.children()
            except psutil.Error:
                continue
            for child in children:
                if child.pid in self.watched:
                    continue
                try:
                    command = child.cmdline()
                except psutil.Error:
                    continue
                if not _is_mock(command):
                    continue
                self.watched[child.pid] = Watched(child, "mock", parent=worker.pid, name=_mock_name(command))
                child.cpu_percent()
                if self.started is None:
                    self.started = time.monotonic()

    def sample(self) -> None:
        self.discover()
        if self.started is None:
            return
        t = time.monotonic() - self.started
        if self.stopped is None and self.log.poll(STOP_LINE):
            self.stopped = t  # the samples before this one are the run's own: then come the drain and the report
        sessions = self.sessions.poll()
        self.load.append((t, os.getloadavg()[0]))
        for watched in self.watched.values():
            try:
                with watched.process.oneshot():
                    sample = Sample(
                        t=round(t, 3),
                        rss=watched.process.memory_info().rss,
                        fds=watched.process.num_fds(),
                        threads=watched.process.num_threads(),
                        cpu=watched.process.cpu_percent(),
                        sessions=sessions,
                    )
            except psutil.Error:
                continue  # it ended: the run is over for it
            watched.samples.append(sample)

    def write_csv(self, path: Path) -> None:
        """Every sample of every process, for plots and for a closer look."""
        with path.open("w") as file:
            file.write("process,pid,t_s,rss_bytes,fds,threads,cpu_percent,sessions\n")
            for watched in self.named():
                for s in watched.samples:
                    file.write(
                        f"{watched.name},{watched.process.pid},{s.t},{s.rss},{s.fds},{s.threads},{s.cpu},{s.sessions}\n"
                    )

    def named(self) -> list[Watched]:
        """Master first, then each worker followed by its mock; workers are named after their mock's truth log."""
        for watched in self.watched.values():
            if watched.role == "worker":
                mocks = [m for m in self.watched.values() if m.role == "mock" and m.parent == watched.process.pid]
                watched.name = mocks[0].name.removeprefix("mock of ") if mocks else f"worker pid {watched.process.pid}"
        order = {"master": 0, "worker": 1, "mock": 2}
        return sorted(
            self.watched.values(),
            key=lambda w: (w.role != "master", w.name if w.role == "worker" else _worker_of(w), order[w.role]),
        )


@dataclasses.dataclass
class Soak:
    """A finished soak: its samples, and what the master recorded."""

    code: int
    sampler: Sampler
    run_s: float
    wall_s: float
    window_s: float = 0.0  # samples up to here are the run's own (not start-up, not the drain and report)
    facts: dict[str, Any] = dataclasses.field(default_factory=dict)
    rows: list[Row] = dataclasses.field(default_factory=list)

    def load_average(self) -> dict[str, float]:
        """The machine's 1-minute load average while the run ran: anything else on the CPU shows up as lag."""
        during = [load for t, load in self.sampler.load if t <= self.window_s] or [0.0]
        return {"mean": round(statistics.fmean(during), 2), "max": round(max(during), 2)}

    @property
    def sessions_during_run(self) -> int:
        samples = (s for w in self.sampler.watched.values() for s in w.samples if s.t <= self.window_s)
        return max((s.sessions for s in samples), default=0)


def _worker_of(watched: Watched) -> str:
    return watched.name.removeprefix("mock of ")


def _is_mock(command: list[str]) -> bool:
    """The embedded mock's process: ``python -m s2s_users mock ...``."""
    return any(command[i : i + 2] == ["s2s_users", "mock"] for i in range(len(command) - 1))


def _mock_name(command: list[str]) -> str:
    """``mock of worker-N``, from the mock's truth log (``<report dir>/mock-truth-worker-N.jsonl``)."""
    if "--truth" in command:
        stem = Path(command[command.index("--truth") + 1]).stem
        return "mock of " + stem.removeprefix("mock-truth-")
    return "mock"


# --- the numbers ----------------------------------------------------------------------------------------------


def summarize(watched: Watched, window_s: float, time_scale: float) -> Row | None:
    """Per process: samples of the run itself, after the warm-up; RSS slope per simulated hour; FDs by half."""
    during = [s for s in watched.samples if s.t <= window_s]
    kept = during[int(len(during) * WARM_UP) :]
    if len(kept) < 4:
        return None
    hours = [s.t * time_scale / 3600 for s in kept]
    rss_mb = [s.rss / MB for s in kept]
    slope = statistics.linear_regression(hours, rss_mb).slope if len(set(hours)) > 1 else 0.0
    half = len(kept) // 2
    first, second = kept[:half], kept[half:]
    fds_first = [s.fds for s in first]
    fds_second = [s.fds for s in second]
    verdict = _verdict(slope, max(fds_first), max(fds_second))
    step = max(len(kept) / SERIES_POINTS, 1.0)
    picks = sorted({min(int(i * step), len(kept) - 1) for i in range(SERIES_POINTS)} | {len(kept) - 1})
    return Row(
        process=watched.name,
        pid=watched.process.pid,
        samples=len(kept),
        rss_start_mb=round(rss_mb[0], 1),
        rss_end_mb=round(rss_mb[-1], 1),
        rss_max_mb=round(max(rss_mb), 1),
        rss_slope_mb_per_sim_h=round(slope, 3),
        fds_first_min=min(fds_first),
        fds_first_max=max(fds_first),
        fds_second_min=min(fds_second),
        fds_second_max=max(fds_second),
        threads_min=min(s.threads for s in kept),
        threads_max=max(s.threads for s in kept),
        cpu_percent=round(statistics.fmean(s.cpu for s in kept), 1),
        verdict=verdict,
        rss_mb_series=[round(rss_mb[i], 1) for i in picks],
        fds_series=[kept[i].fds for i in picks],
    )


def _verdict(slope: float, fds_first_max: int, fds_second_max: int) -> str:
    problems = []
    if slope >= FLAT_SLOPE_MB_PER_SIM_H:
        problems.append("RSS grows")
    if fds_second_max > fds_first_max + FD_MARGIN:
        problems.append("FDs grow")
    return ", ".join(problems) if problems else "flat"


def table(rows: list[Row]) -> str:
    header = ("process", "RSS start MB", "RSS end MB", "RSS max MB", "slope MB/sim-h", "FDs 1st half",
              "FDs 2nd half", "threads", "CPU %", "verdict")  # fmt: skip
    return markdown_table(header, [
        (r.process, r.rss_start_mb, r.rss_end_mb, r.rss_max_mb, f"{r.rss_slope_mb_per_sim_h:+.2f}",
         f"{r.fds_first_min}–{r.fds_first_max}", f"{r.fds_second_min}–{r.fds_second_max}",
         f"{r.threads_min}–{r.threads_max}" if r.threads_min != r.threads_max else r.threads_min, r.cpu_percent,
         r.verdict)
        for r in rows
    ])  # fmt: skip


def session_facts(sessions_path: Path) -> dict[str, Any]:
    """Outcomes and ends of every recorded session, and the pacing lag: did the load generator keep up?"""
    outcomes: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    turns = 0
    lags: list[float] = []
    if sessions_path.exists():
        for line in sessions_path.read_text().splitlines():
            record = json.loads(line)
            outcomes[str(record.get("outcome"))] += 1
            ends[str(record.get("end_class") or "all turns played")] += 1
            for turn in record.get("turns", ()):
                turns += 1
                lags.append(float(turn.get("pacing_lag_ms") or 0.0))
    lags.sort()
    p95 = lags[min(int(len(lags) * 0.95), len(lags) - 1)] if lags else 0.0
    return {"outcomes": dict(outcomes), "ends": dict(ends), "turns": turns, "pacing_lag_p95_ms": round(p95, 1)}


# --- the machine and the run ----------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("s2s_users", "locust", "gevent", "websockets", "pyzmq", "psutil"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "absent"
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def locust_command(args: argparse.Namespace, run_dir: Path, scenario: str, run_s: float, port: object) -> list[str]:
    """The run as a user would start it; on a free master port (another run may hold Locust's default 5557)."""
    scale = f"{args.time_scale:g}"
    return [
        str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "--processes", str(args.workers),
        "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--master-port", str(port),
        "-u", str(args.users), "-r", str(args.users), "--run-time", f"{run_s:.0f}s",
        "--sessions-per-user", "0", "--turns", str(args.turns),
        "--mock-scenario", scenario, "--mock-time-scale", scale, "--s2s-pace", scale,
        "--think-time", f"{args.think_time:g}", "--chunk-ms", str(args.chunk_ms),
        "--only-summary", "--exit-code-on-error", "0", "--report-dir", str(run_dir),
    ]  # fmt: skip


def soak(args: argparse.Namespace, run_dir: Path) -> Soak:
    """Run the soak and sample it every ``--sample-s`` until it ends."""
    run_s = round(args.simulated_hours * 3600 / args.time_scale)
    scenario = args.scenario
    if scenario is None:
        scenario_path = run_dir / "stability.toml"
        scenario_path.write_text(SCENARIO)
        scenario = str(scenario_path)
    command = locust_command(args, run_dir / "run", scenario, run_s, free_port())
    started = time.monotonic()
    with (run_dir / "locust.out").open("w") as out, (run_dir / "locust.err").open("w") as err:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, start_new_session=True)
    try:
        sampler = Sampler(
            process.pid, LineCounter(run_dir / "run" / "sessions.jsonl"), LineCounter(run_dir / "locust.err")
        )
        due = time.monotonic()
        while process.poll() is None:
            sampler.sample()
            due += args.sample_s
            time.sleep(max(due - time.monotonic(), 0.0))
            if time.monotonic() - started > run_s + args.grace_s:
                print(f"error: the run did not end {args.grace_s:.0f} s after its run time; killed", file=sys.stderr)
                break
    finally:
        _kill_group(process)
    code = process.returncode if process.returncode is not None else -9
    return Soak(code, sampler, run_s, time.monotonic() - started)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """The run's own process group (master, workers, mocks): whatever is left of it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    try:
        os.killpg(process.pid, signal.SIGKILL)  # a worker or mock that outlived the master
    except ProcessLookupError:
        pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stability", description=__doc__.split("\n")[0])
    parser.add_argument("--simulated-hours", type=float, default=6.0, help="server-side hours the soak plays")
    parser.add_argument("--workers", type=int, default=2, help="Locust worker processes (--processes)")
    parser.add_argument("--users", type=int, default=40, help="concurrent sessions, spread over the workers")
    parser.add_argument("--time-scale", type=float, default=60.0, help="--mock-time-scale and --s2s-pace")
    parser.add_argument("--sample-s", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where stability.json and .md go")
    parser.add_argument("--turns", type=int, default=60, help="turns per session")
    parser.add_argument("--think-time", type=float, default=0.05, help="wall seconds between turns")
    parser.add_argument("--chunk-ms", type=int, default=500, help="prompt audio per append")
    parser.add_argument("--scenario", help="a mock scenario (file or bundled name) instead of the built-in one")
    parser.add_argument("--keep-run", type=Path, help="keep the run's files (report, sessions, logs) here")
    parser.add_argument("--grace-s", type=float, default=120.0, help="wall seconds allowed after the run time")
    return parser.parse_args(argv)


def measure(args: argparse.Namespace, run_dir: Path) -> Soak:
    result = soak(args, run_dir)
    if result.code != 0:
        print(f"error: locust exited with code {result.code}; the end of its log:", file=sys.stderr)
        print((run_dir / "locust.err").read_text()[-3000:], file=sys.stderr)
        return result
    stopped = result.sampler.stopped
    result.window_s = stopped - args.sample_s / 2 if stopped is not None else result.run_s - 2 * args.sample_s
    result.sampler.write_csv(run_dir / "samples.csv")
    result.facts = session_facts(run_dir / "run" / "sessions.jsonl")
    result.rows = [
        row for w in result.sampler.named() if (row := summarize(w, result.window_s, args.time_scale)) is not None
    ]
    return result


def conclusion(args: argparse.Namespace, result: Soak) -> str:
    simulated_h = result.run_s * args.time_scale / 3600
    during = result.sessions_during_run
    ends = ", ".join(f"{n} {end}" for end, n in sorted(result.facts["ends"].items(), key=lambda item: -item[1]))
    not_flat = [f"{r.process} ({r.verdict})" for r in result.rows if r.verdict != "flat"]
    verdict = (
        f"every process flat (RSS slope < {FLAT_SLOPE_MB_PER_SIM_H:g} MB per simulated hour after the first "
        f"{WARM_UP:.0%} of the run; FDs of the second half <= the first half's max + {FD_MARGIN})"
        if not not_flat
        else f"not flat: {'; '.join(not_flat)}"
    )
    return (
        f"{simulated_h:g} simulated hours ({result.run_s:.0f} s of wall time at {args.time_scale:g}x, "
        f"{result.wall_s:.0f} s with start-up, drain and report), {args.workers} workers, {args.users} users: "
        f"{sum(result.facts['outcomes'].values())} sessions recorded ({during} while the run ran, "
        f"{during / max(simulated_h, 1e-9):.0f} per simulated hour), {result.facts['turns']} turns. How they ended: "
        f"{ends}. Pacing lag p95 {result.facts['pacing_lag_p95_ms']} ms; machine load average "
        f"{result.load_average()['mean']:g} on {os.cpu_count()} CPUs. Verdict: {verdict}."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.keep_run is not None:
        args.keep_run.mkdir(parents=True, exist_ok=True)
        result = measure(args, args.keep_run)
    else:
        with tempfile.TemporaryDirectory(prefix="s2s-stability-") as scratch:
            result = measure(args, Path(scratch))
    if result.code != 0:
        return 1
    command = locust_command(args, Path("RUN_DIR"), args.scenario or "RUN_DIR/stability.toml", result.run_s, "PORT")
    params = {
        "command": "python -m benchmarks.stability " + shlex.join(sys.argv[1:] if argv is None else argv),
        "locust_command": shlex.join(command).replace(str(ROOT) + "/", ""),
        "cpu_model": cpu_model(),
        "cores": psutil.cpu_count(logical=False),
        "versions": versions(),
        "simulated_hours": result.run_s * args.time_scale / 3600,
        "time_scale": args.time_scale,
        "run_s": result.run_s,
        "measured_s": round(result.window_s, 1),
        "wall_s": round(result.wall_s, 1),
        "workers": args.workers,
        "users": args.users,
        "turns": args.turns,
        "think_time_s": args.think_time,
        "chunk_ms": args.chunk_ms,
        "sample_s": args.sample_s,
        "warm_up": WARM_UP,
        "load_average_1min": result.load_average(),
        "sessions_recorded": sum(result.facts["outcomes"].values()),
        "sessions_during_run": result.sessions_during_run,
        "sessions": result.facts,
        "scenario": args.scenario or SCENARIO.strip(),
    }
    found = params["versions"]
    notes = (
        f"Machine: {params['cpu_model']}, {params['cores']} cores; "
        + ", ".join(f"{package} {version}" for package, version in found.items())
        + f".\n\nCommand: `{params['command']}`, which ran `{params['locust_command']}`."
    )
    title = "Long-run stability benchmark"
    publish("stability", title, table(result.rows), conclusion(args, result), result.rows, params, args.out, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
