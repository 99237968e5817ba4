"""One measured run of a load generator against the benchmark's mock: processes, pinning, CPU, RSS, results.

Used by ``benchmarks.generator_capacity``. The mock runs on ``MOCK_CPU``, the generator under test on
``CLIENT_CPU``: the generator's CPU share is its own (``psutil`` CPU times over a window once every session has
started), so a busy machine inflates its lag, not its cost.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from s2s_users.core.metrics.lag import LagHistogram
from s2s_users.core.reporting.summary import percentile

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "locustfiles" / "endurance.py"
MOCK_CPU = 0
CLIENT_CPU = 1 % (os.cpu_count() or 1)
MODEL = "bench"
API_KEY = "mock-key"
# The same answers as the default gpt-realtime profile (6 s median, streamed 4x real time in 100 ms deltas, first
# audio after 600 ms), without faults or ceiling: the benchmark measures the generator, not failures.
SCENARIO = """
name = "generator-bench"
seed = 11

[models.bench]
audio = { dist = "lognormal", median = 6.05, p95 = 8.15, min = 2.5, max = 9.5 }
"""
STOP_TIMEOUT_S = 60.0
SPAWNED = ("All users spawned", "Spawning is complete and report waittime is expired")
"""Locust's master logs the second when a worker's report of its users comes over a second late (workers busy)."""
PRIORITIES = {
    "normal": [],
    "nice": ["nice", "-n", "-20"],
    "realtime": ["chrt", "--fifo", "1"],
}
"""How the benchmark's processes are scheduled (see ``set_priority``)."""
_priority: list[str] = []


def set_priority(name: str) -> None:
    """On a machine shared with other work, the others' processes would be counted as the generator's lag (a pinned
    pacer at 7 % CPU measured p99 58 ms at normal priority, 6 ms at nice -20, 1.4 ms as SCHED_FIFO, with the machine
    under full load). ``realtime`` (root) runs the mock and both clients as SCHED_FIFO 1: they take the CPU they need
    first, the same for both sides, and the kernel's RT throttling still leaves 5 % to the rest."""
    global _priority
    _priority = PRIORITIES[name]


def pinned(cpu: int, command: list[str]) -> list[str]:
    """``command`` on one CPU, at the benchmark's priority."""
    return [*_priority, "taskset", "-c", str(cpu), *command]


CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
"""cgroup v1's cpu controller: a CPU budget per group of processes (CFS bandwidth: ``cfs_quota_us`` per period)."""
MIN_RUNTIME_US = 1000  # the kernel refuses a quota under 1 ms
SLICED_NICE = -20


def slice_budget_us(percent: float, period_ms: float) -> tuple[int, int]:
    """(period, quota) in µs that give ``percent`` of a CPU. A slice that has used its quota waits for the next
    period, so a short period bounds the stall; but a worker's work comes in bursts (every session's chunk due at
    once), and a quota shorter than a burst stalls it while its average is well under budget."""
    if not 0 < percent <= 100:
        raise ValueError(f"a CPU slice is between 0 and 100 % of a core, not {percent:g}")
    period = round(period_ms * 1000)
    quota = round(period * percent / 100)
    if quota < MIN_RUNTIME_US:
        raise ValueError(f"a {percent:g} % slice of {period_ms:g} ms is under the kernel's 1 ms least: a longer period")
    return period, quota


class CpuSlices:
    """``count`` CPU budgets of ``percent`` of a core each, enforced by the kernel: worker ``i`` goes into slice
    ``i``. On a 2-core machine the workers share ``CLIENT_CPU``, so 1 vs 2 workers compares one slice against two
    slices of the same size (a worker's core in miniature) instead of one core against the same core shared.

    A sliced worker runs at normal priority, nice -20, not SCHED_FIFO: the quota is CFS bandwidth, which holds for
    normal tasks only (a realtime task would need the group's own realtime budget, ``cpu.rt_runtime_us``)."""

    def __init__(self, percent: float, count: int, period_ms: float) -> None:
        self.percent, self.count = percent, count
        self.period_us, self.quota_us = slice_budget_us(percent, period_ms)
        self.groups: list[Path] = []

    def __enter__(self) -> CpuSlices:
        if os.geteuid() != 0 or not (CGROUP_CPU / "cpu.cfs_quota_us").exists():
            raise RuntimeError(f"CPU slices need root and cgroup v1's cpu controller at {CGROUP_CPU}")
        for index in range(self.count):
            group = CGROUP_CPU / f"s2s-bench-{os.getpid()}-{index}"
            group.mkdir(exist_ok=True)
            self.groups.append(group)
            (group / "cpu.cfs_period_us").write_text(str(self.period_us))
            (group / "cpu.cfs_quota_us").write_text(str(self.quota_us))
        return self

    def put(self, index: int, pid: int) -> None:
        """The process ``pid`` (all its threads) into slice ``index``, at normal priority, nice -20."""
        for _ in range(50):
            for thread in os.listdir(f"/proc/{pid}/task"):
                tid = int(thread)
                with contextlib.suppress(ProcessLookupError):
                    os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
                    os.setpriority(os.PRIO_PROCESS, tid, SLICED_NICE)
            try:
                (self.groups[index] / "cgroup.procs").write_text(str(pid))
                return
            except OSError:  # a realtime thread started meanwhile (the group has no realtime budget): again
                time.sleep(0.01)
        raise RuntimeError(f"worker {pid} could not be moved into its CPU slice")

    def __exit__(self, *_: object) -> None:
        for group in self.groups:
            for pid in (group / "cgroup.procs").read_text().split():  # none, once the run's processes are gone
                with contextlib.suppress(OSError):
                    (CGROUP_CPU / "cgroup.procs").write_text(pid)
            group.rmdir()


def _cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _rss_bytes(processes: Sequence[psutil.Process]) -> int:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class MockFarm:
    """``count`` mock processes sharing one port (SO_REUSEPORT) on ``MOCK_CPU``, each with its own truth log."""

    def __init__(self, scratch: Path, count: int = 1) -> None:
        self.scratch = scratch
        self.count = count
        self.processes: list[subprocess.Popen[str]] = []
        self.url = ""

    def __enter__(self) -> MockFarm:
        scenario = self.scratch / "generator-bench.toml"
        scenario.write_text(SCENARIO)
        with socket.socket() as probe:  # a free port for all of them (a small race, on loopback only)
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        for index in range(self.count):
            command = pinned(MOCK_CPU, [sys.executable, "-m", "s2s_users", "mock", "--port", str(port), "--reuse-port",
                                        "--scenario", str(scenario), "--seed", str(index + 1),
                                        "--truth", str(self.scratch / f"truth-{index}.jsonl")])  # fmt: skip
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.processes.append(process)
            assert process.stdout is not None
            line = process.stdout.readline()
            if "listening on" not in line:
                raise RuntimeError(f"the mock did not start: {line!r}")
            self.url = line.rsplit(" ", 1)[-1].strip()
        return self

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()

    def cpu_seconds(self) -> float:
        return _cpu_seconds([psutil.Process(p.pid) for p in self.processes])

    def truth(self) -> dict[str, dict[str, Any]]:
        """Every session the mocks have finished, by session id."""
        sessions = {}
        for path in self.scratch.glob("truth-*.jsonl"):
            for line in path.read_text().splitlines():
                data = json.loads(line)
                if data.get("session_id"):
                    sessions[data["session_id"]] = data
        return sessions


@dataclass
class TurnTimes:
    """One turn as the client saw it: epoch seconds when the user's audio ended and when the first audio came."""

    session_id: str
    turn: int
    audio_end_at: float
    first_audio_at: float | None


@dataclass
class RunResult:
    """What one run of one client at one load measured."""

    cpu_percent: float
    master_cpu_percent: float
    mock_cpu_percent: float
    rss_bytes: int
    window_s: float
    pacing: LagHistogram
    ready_at: float
    """Epoch seconds when every session had started: turns whose audio ended before are left out."""
    turns: list[TurnTimes] = field(default_factory=list)
    errors: int = 0
    error_sample: str = ""


@dataclass(frozen=True)
class TtfaError:
    """How far one turn's TTFA as the client measured it is from the mock's truth, in ms, and where it arose. The
    client and the mock share the machine's clock, so each way can be read on its own: ``up`` from the client's end
    of audio to the mock's having the request (the client's sending of commit and response.create, the mock's
    reading; manual turns only), ``down`` from the mock's first delta sent to the client's having it. The error is
    ``|up + down|``."""

    up_ms: float | None
    down_ms: float

    @property
    def total_ms(self) -> float:
        return abs((self.up_ms or 0.0) + self.down_ms)


def ttfa_errors(turns: Sequence[TurnTimes], truth: dict[str, dict[str, Any]], turn_mode: str) -> list[TtfaError]:
    """Per turn, how far the client's TTFA is from the mock's truth.

    Manual turns: the client's TTFA (audio end → first audio seen) against the mock's (response.create received →
    first delta sent); it includes every delay the client adds on both ends. Server-VAD turns start at the server's
    end-of-speech decision, which the client cannot see: there only the receiving side is compared (first delta
    sent → seen)."""
    errors = []
    for turn in turns:
        session = truth.get(turn.session_id)
        if session is None or turn.first_audio_at is None:
            continue
        asked, first = session.get("turn_asked_at", []), session.get("turn_first_audio_at", [])
        if turn.turn > len(first) or first[turn.turn - 1] is None:
            continue
        down = (turn.first_audio_at - first[turn.turn - 1]) * 1000
        up = (asked[turn.turn - 1] - turn.audio_end_at) * 1000 if turn_mode == "manual" else None
        errors.append(TtfaError(up, down))
    return errors


def error_figures(errors: list[float]) -> tuple[float | None, float | None]:
    return percentile(errors, 50), percentile(errors, 99)


def split_figures(errors: list[TtfaError]) -> tuple[float | None, float | None]:
    """The p99 of each way (``TtfaError``): up (None for server-VAD turns), down."""
    ups = [error.up_ms for error in errors if error.up_ms is not None]
    return percentile(ups, 99), percentile([error.down_ms for error in errors], 99)


class _Lines(threading.Thread):
    """Reads a child's output; ``seen`` is set when a line holds one of ``markers``."""

    def __init__(self, stream: Any, markers: tuple[str, ...]) -> None:
        super().__init__(daemon=True)
        self.stream, self.markers = stream, markers
        self.seen = threading.Event()
        self.tail: list[str] = []

    def run(self) -> None:
        for line in self.stream:
            self.tail = (self.tail + [line])[-40:]
            if any(marker in line for marker in self.markers):
                self.seen.set()


@contextmanager
def _child(
    command: list[str], markers: tuple[str, ...], stream: str, package_root: Path | None = None
) -> Iterator[tuple[subprocess.Popen[str], _Lines]]:
    """``package_root``: where the child imports s2s_users from (a compiled copy), ahead of the installed one; it
    runs there too, as Locust puts its working folder first on ``sys.path``."""
    env = None if package_root is None else {**os.environ, "PYTHONPATH": str(package_root)}
    process = subprocess.Popen(
        pinned(CLIENT_CPU, command),
        cwd=package_root or ROOT,
        env=env,
        stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
        stderr=subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL,
        text=True,
    )
    lines = _Lines(process.stdout if stream == "stdout" else process.stderr, markers)
    lines.start()
    try:
        yield process, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _measure_window(
    client: list[psutil.Process], master: list[psutil.Process], farm: MockFarm, settle_s: float, window_s: float
) -> tuple[float, float, float, int]:
    time.sleep(settle_s)
    start = time.monotonic()
    cpu0, master0, mock0 = _cpu_seconds(client), _cpu_seconds(master), farm.cpu_seconds()
    time.sleep(window_s)
    elapsed = time.monotonic() - start
    cpu = (_cpu_seconds(client) - cpu0) / elapsed * 100
    master_cpu = (_cpu_seconds(master) - master0) / elapsed * 100
    mock_cpu = (farm.cpu_seconds() - mock0) / elapsed * 100
    return cpu, master_cpu, mock_cpu, _rss_bytes(client)


def _stop(process: subprocess.Popen[str], lines: _Lines) -> bool:
    """SIGTERM, then SIGKILL: the measurement is taken; a client too saturated to stop in time is killed and said
    so (its level is not held anyway: ``_without_figures``), and the ramp goes on. Whether it was killed."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        print(f"    (the client did not stop within {STOP_TIMEOUT_S:g} s of SIGTERM: killed; last line: "
              f"{''.join(lines.tail[-1:]).strip()!r})", flush=True)  # fmt: skip
        return True
    return False


KILLED = f"killed: it did not stop within {STOP_TIMEOUT_S:g} s of SIGTERM (saturated)"


def _without_figures(
    cpu: float, master_cpu: float, mock_cpu: float, rss: int, window_s: float, ready_at: float, why: str
) -> RunResult:
    """A run whose client wrote no figures (killed, or it ended without its report): its CPU stands, and an error
    marks it not held."""
    return RunResult(cpu, master_cpu, mock_cpu, rss, window_s, LagHistogram(), ready_at, [], 1, why)


def run_tester(
    farm: MockFarm,
    scratch: Path,
    sessions: int,
    chunk_ms: int,
    turn_mode: str,
    settle_s: float,
    window_s: float,
    workers: int = 1,
    rate: float = 50.0,
    package_root: Path | None = None,
    slices: CpuSlices | None = None,
) -> RunResult:
    """s2s_users as a user runs it: ``locust -f locustfiles/endurance.py --headless`` (``--processes`` for more
    than one worker, or with ``slices``), against the farm; the report's pacing figures are reset once every user is
    spawned. ``package_root``: a tree whose s2s_users the client imports instead (``scripts/compile.py build
    --copy``). ``slices``: a master on ``MOCK_CPU`` and each of its workers in its own CPU slice."""
    report_dir = scratch / f"tester-{time.monotonic_ns()}"
    command = [str(Path(sys.executable).with_name("locust")), "-f", str(LOCUSTFILE), "--headless", "--only-summary",
               "--exit-code-on-error", "0", "--reset-stats", "-u", str(sessions), "-r", str(rate),
               "--run-time", "1h", "--s2s-url", farm.url, "--s2s-api-key", API_KEY, "--s2s-model", MODEL,
               "--chunk-ms", str(chunk_ms), "--turn-mode", turn_mode, "--think-time", "1", "--turns", "100000",
               "--report-dir", str(report_dir)]  # fmt: skip
    distributed = workers > 1 or slices is not None
    if distributed:
        command += ["--processes", str(workers)]
    with _child(command, SPAWNED, "stderr", package_root) as (process, lines):
        main = psutil.Process(process.pid)
        client, master = [main], []
        if distributed:
            deadline = time.monotonic() + 60
            while len(main.children()) < workers and time.monotonic() < deadline:
                time.sleep(0.1)
            client, master = main.children(), [main]
            main.cpu_affinity([MOCK_CPU])  # the master beside the mock; its workers keep the client's core
            if slices is not None:  # long before the window measured: every user spawned, then the settling time
                for index, worker in enumerate(client):
                    slices.put(index, worker.pid)
        if not lines.seen.wait(sessions / rate + 120):
            raise RuntimeError("the users were not spawned: " + "".join(lines.tail[-10:]))
        ready_at = time.time()
        cpu, master_cpu, mock_cpu, rss = _measure_window(client, master, farm, settle_s, window_s)
        killed = _stop(process, lines)
    if killed:
        return _without_figures(cpu, master_cpu, mock_cpu, rss, window_s, ready_at, KILLED)
    if not (report_dir / "pacing.json").is_file():  # it ended without its report: say how, the ramp goes on
        tail = "".join(lines.tail[-15:])
        print(f"    (the client exited {process.returncode} without its report; its last lines:)\n{tail}", flush=True)
        why = f"exited {process.returncode} without its report"
        return _without_figures(cpu, master_cpu, mock_cpu, rss, window_s, ready_at, why)
    pacing = json.loads((report_dir / "pacing.json").read_text())["workers"]
    histogram = LagHistogram()
    for data in pacing.values():
        histogram.merge(LagHistogram.from_wire(data))
    turns, errors, records, lost = [], 0, 0, 0
    for line in (report_dir / "sessions.jsonl").read_text().splitlines():
        record = json.loads(line)
        records += 1
        lost += record["outcome"] == "lost"
        for turn in record["turns"]:
            if turn["outcome"] != "ok":
                errors += turn["outcome"] != "harness.stopped"
                continue
            audio_end = turn["ended_at"] - turn["response_ms"] / 1000
            if audio_end >= ready_at:
                first = audio_end + turn["ttfa_ms"] / 1000
                turns.append(TurnTimes(record["session_id"], turn["turn"], audio_end, first))
    # Every user plays one session to the end of the run: fewer records, or lost ones (a worker gone), mean the load
    # measured was not the level's (a run once held "170 sessions" at half the CPU of 160).
    missing = max(sessions - records, 0)
    short = missing + lost
    why = f"{missing} sessions without a record, {lost} lost" if short else ""
    if short:
        print(f"    ({why}: not held)", flush=True)
    return RunResult(cpu, master_cpu, mock_cpu, rss, window_s, histogram, ready_at, turns, errors + short, why)


def run_reference(
    farm: MockFarm,
    scratch: Path,
    sessions: int,
    chunk_ms: int,
    turn_mode: str,
    settle_s: float,
    window_s: float,
    rate: float = 50.0,
) -> RunResult:
    """The plain asyncio + websockets client (``benchmarks.reference_client``), measured the same way."""
    out = scratch / f"reference-{time.monotonic_ns()}.json"
    command = [sys.executable, "-m", "benchmarks.reference_client", "--url", f"{farm.url}?model={MODEL}",
               "--api-key", API_KEY, "--sessions", str(sessions), "--rate", str(rate), "--chunk-ms", str(chunk_ms),
               "--turn-mode", turn_mode, "--out", str(out)]  # fmt: skip
    with _child(command, ("ready",), "stdout") as (process, lines):
        if not lines.seen.wait(sessions / rate + 120):
            raise RuntimeError("the reference did not start its sessions: " + "".join(lines.tail[-10:]))
        ready_at = time.time()
        client = [psutil.Process(process.pid)]
        cpu, _, mock_cpu, rss = _measure_window(client, [], farm, settle_s, window_s)
        killed = _stop(process, lines)
    if killed:
        return _without_figures(cpu, 0.0, mock_cpu, rss, window_s, ready_at, KILLED)
    data = json.loads(out.read_text())
    turns = [TurnTimes(s, i, end, first) for s, i, end, first, ok in data["turns"] if ok and end >= ready_at]
    errors = data["error_count"] + sum(1 for *_, ok in data["turns"] if not ok)
    histogram = LagHistogram.from_wire(data["pacing"])
    sample = "; ".join(data["errors"][:2])
    return RunResult(cpu, 0.0, mock_cpu, rss, window_s, histogram, ready_at, turns, errors, sample)
