"""The generator's own clock and cost: real-time-paced sessions per core, s2s_users against a plain asyncio client.

Run from the repository root (as root, for the realtime priority; see --priority):

    .venv/bin/python -m benchmarks.generator_capacity [--repeats 3] [--configs 20:manual,100:manual,...]

The mock (``python -m s2s_users mock``, SO_REUSEPORT, ``--mocks`` processes) is pinned to CPU 0; each client in turn
is pinned to CPU 1: s2s_users as one Locust process (``locust -f locustfiles/endurance.py --headless
--reset-stats``), and the reference, a plain asyncio + ``websockets`` client written in ``reference_client.py`` that
does the same work (same prompts and chunks, same JSON and base64, 1 s think time, same turn mode), against the
same mock. For each configuration (chunk size : turn mode) the load ramps through ``--levels`` (concurrent
sessions, each started at 50 a second) until a client's chunk lag p99 passes 10 ms or its CPU passes 95 % of the
core: each level runs both clients, one after the other (the order alternates by repeat), for ``--window`` seconds
measured after every session started.

Per run: the client's CPU (100 = one core), the lag of every prompt chunk (p50/p99/max), CPU µs per session-second,
RSS, and the TTFA error against the mock's truth log. Per repeat, a client's sessions per core is its highest
level held / its CPU share there; the table gives medians over repeats. ``--workers`` adds 1 vs N workers
(``--processes N``; see README). Results: a table on stdout, ``results/generator_capacity.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import generator_runs as runs
from benchmarks.generator_runs import MockFarm, RunResult, error_figures, split_figures, ttfa_errors
from benchmarks.results import RESULTS, markdown_table, publish

HELD_P99_MS = 10.0
SATURATED_CPU = 95.0
MOCK_SATURATED_CPU = 90.0
COMPILED = "s2s_users compiled"
DEFAULT_LEVELS = {20: "50,100,150,200,250,300,400", 100: "100,200,300,400,500,600,800"}


@dataclasses.dataclass(frozen=True)
class Row:
    """One client at one load in one repeat."""

    repeat: int
    client: str
    chunk_ms: int
    turn_mode: str
    workers: int
    sessions: int
    cpu_percent: float
    master_cpu_percent: float
    mock_cpu_percent: float
    chunks: int
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    lag_max_ms: float | None
    cpu_us_per_session_s: float
    rss_mb: float
    ttfa_error_p50_ms: float | None
    ttfa_error_p99_ms: float | None
    ttfa_up_p99_ms: float | None
    """The error's two ways (``generator_runs.TtfaError``): client's audio end → mock has the request."""
    ttfa_down_p99_ms: float | None
    """Mock's first delta sent → client has it."""
    turns_ok: int
    errors: int
    held: bool
    mock_bound: bool


def _row(repeat: int, client: str, chunk_ms: int, mode: str, workers: int, sessions: int, result: RunResult,
         truth: dict[str, Any], worker_cpu: float = 100.0) -> Row:  # fmt: skip
    """``worker_cpu``: the CPU a worker has (100 = a core; less in a CPU slice): held within 95 % of it."""
    figures = result.pacing.figures()
    errors = ttfa_errors(result.turns, truth, mode)
    err50, err99 = error_figures([error.total_ms for error in errors])
    up99, down99 = split_figures(errors)
    held = (
        figures.p99_ms is not None
        and figures.p99_ms <= HELD_P99_MS
        and result.cpu_percent <= SATURATED_CPU / 100 * worker_cpu * workers
        and result.errors == 0
    )
    return Row(
        repeat=repeat,
        client=client,
        chunk_ms=chunk_ms,
        turn_mode=mode,
        workers=workers,
        sessions=sessions,
        cpu_percent=round(result.cpu_percent, 1),
        master_cpu_percent=round(result.master_cpu_percent, 1),
        mock_cpu_percent=round(result.mock_cpu_percent, 1),
        chunks=figures.chunks,
        lag_p50_ms=_round(figures.p50_ms),
        lag_p99_ms=_round(figures.p99_ms),
        lag_max_ms=_round(figures.max_ms),
        cpu_us_per_session_s=round(result.cpu_percent / 100 * 1e6 / sessions, 1),
        rss_mb=round(result.rss_bytes / 1e6, 1),
        ttfa_error_p50_ms=_round(err50),
        ttfa_error_p99_ms=_round(err99),
        ttfa_up_p99_ms=_round(up99),
        ttfa_down_p99_ms=_round(down99),
        turns_ok=len(result.turns),
        errors=result.errors,
        held=held,
        mock_bound=result.mock_cpu_percent > MOCK_SATURATED_CPU,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


Runner = Callable[[int], RunResult]


def side_by_side(repeat: int, levels: list[int], contenders: dict[str, Callable[[int], Row]]) -> list[Row]:
    """Every contender at each level, one after the other (the order alternates by repeat), each until a level is
    not held (or the mock is saturated); a contender measures one level into its row."""
    rows: list[Row] = []
    going = dict.fromkeys(contenders, True)
    order = list(contenders) if repeat % 2 == 0 else list(reversed(contenders))
    for level in levels:
        for name in order:
            if not going[name]:
                continue
            row = contenders[name](level)
            rows.append(row)
            print(_line(row), file=sys.stderr, flush=True)
            going[name] = row.held and not row.mock_bound
        if not any(going.values()):
            break
    return rows


def ramp(
    repeat: int, chunk_ms: int, mode: str, levels: list[int], clients: dict[str, Runner], farm: MockFarm
) -> list[Row]:
    """Both (or all three) clients at each level, side by side."""

    def measure(client: str) -> Callable[[int], Row]:
        def at(sessions: int) -> Row:
            result = clients[client](sessions)
            time.sleep(1.5)  # the mock writes a session's truth when its connection ends
            return _row(repeat, client, chunk_ms, mode, 1, sessions, result, farm.truth())

        return at

    return side_by_side(repeat, levels, {client: measure(client) for client in clients})


def _line(row: Row) -> str:
    return (
        f"  r{row.repeat} {row.client:<14} {row.chunk_ms:>3} ms {row.turn_mode:<10} {row.sessions:>4} sessions: "
        f"CPU {row.cpu_percent:5.1f} % (mock {row.mock_cpu_percent:5.1f} %), lag p50/p99/max "
        f"{row.lag_p50_ms}/{row.lag_p99_ms}/{row.lag_max_ms} ms, TTFA error p99 {row.ttfa_error_p99_ms} ms "
        f"(up {row.ttfa_up_p99_ms}, down {row.ttfa_down_p99_ms}), "
        f"errors {row.errors}{'' if row.held else ', not held'}{', mock-bound' if row.mock_bound else ''}"
    )


@dataclasses.dataclass(frozen=True)
class Summary:
    """Medians over repeats of one client in one configuration."""

    client: str
    chunk_ms: int
    turn_mode: str
    sessions_per_core: float | None
    best_level: int | None
    cpu_percent_at_best: float | None
    lag_p99_ms_at_best: float | None
    worst_p99_ms_up_to_80_percent: float | None
    cpu_us_per_session_s: float | None
    rss_kb_per_session: float | None
    ttfa_error_p99_ms: float | None
    repeats: int


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def summarize(rows: list[Row], client: str, chunk_ms: int, mode: str) -> Summary:
    mine = [r for r in rows if r.client == client and r.chunk_ms == chunk_ms and r.turn_mode == mode]
    per_core, best_levels, cpus, lags, cost, ttfa, worst80 = [], [], [], [], [], [], []
    for repeat in sorted({r.repeat for r in mine}):
        held = [r for r in mine if r.repeat == repeat and r.held and not r.mock_bound]
        light = [r for r in mine if r.repeat == repeat and r.cpu_percent <= 80 * r.workers and r.lag_p99_ms is not None]
        if light:
            worst80.append(max(r.lag_p99_ms or 0.0 for r in light))
        if not held:
            continue
        best = max(held, key=lambda r: r.sessions)
        per_core.append(best.sessions / (best.cpu_percent / 100))
        best_levels.append(best.sessions)
        cpus.append(best.cpu_percent)
        lags.append(best.lag_p99_ms or 0.0)
        cost.append(best.cpu_us_per_session_s)
        if best.ttfa_error_p99_ms is not None:
            ttfa.append(best.ttfa_error_p99_ms)
    return Summary(
        client=client,
        chunk_ms=chunk_ms,
        turn_mode=mode,
        sessions_per_core=None if not per_core else round(statistics.median(per_core)),
        best_level=None if not best_levels else int(statistics.median(best_levels)),
        cpu_percent_at_best=_median(cpus),
        lag_p99_ms_at_best=_median(lags),
        worst_p99_ms_up_to_80_percent=_median(worst80),
        cpu_us_per_session_s=_median(cost),
        rss_kb_per_session=_rss_slope(mine),
        ttfa_error_p99_ms=_median(ttfa),
        repeats=len(per_core),
    )


def _rss_slope(rows: list[Row]) -> float | None:
    """Memory per added session (KB): the least-squares slope of RSS over sessions, across levels and repeats."""
    points = [(r.sessions, r.rss_mb) for r in rows]
    if len({s for s, _ in points}) < 2:
        return None
    mean_s = statistics.fmean(s for s, _ in points)
    mean_m = statistics.fmean(m for _, m in points)
    slope = sum((s - mean_s) * (m - mean_m) for s, m in points) / sum((s - mean_s) ** 2 for s, _ in points)
    return round(slope * 1000, 1)


def machine() -> dict[str, Any]:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    versions = {name: metadata.version(name) for name in ("locust", "websockets", "gevent", "greenlet", "s2s_users")}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=runs.ROOT, capture_output=True, text=True)
    return {"cpu_model": model, "versions": versions, "commit": commit.stdout.strip() or None,
            "platform": platform.platform()}  # fmt: skip


def _manual(summaries: list[Summary], client: str, chunk_ms: int) -> Summary | None:
    return next((s for s in summaries if s.client == client and s.chunk_ms == chunk_ms and s.turn_mode == "manual"),
                None)  # fmt: skip


def table(summaries: list[Summary]) -> str:
    header = ("client", "chunk", "turns", "sessions/core", "held at (CPU %)", "lag p99 there", "worst p99 ≤80 % CPU",
              "CPU µs/session·s", "RSS KB/session", "TTFA err p99", "repeats")  # fmt: skip
    body = []
    for s in summaries:
        held = "—" if s.best_level is None else f"{s.best_level} ({s.cpu_percent_at_best} %)"
        body.append((s.client, f"{s.chunk_ms} ms", s.turn_mode, s.sessions_per_core or "—", held,
                     _ms(s.lag_p99_ms_at_best), _ms(s.worst_p99_ms_up_to_80_percent), s.cpu_us_per_session_s or "—",
                     s.rss_kb_per_session or "—", _ms(s.ttfa_error_p99_ms), s.repeats))  # fmt: skip
    return markdown_table(header, body)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value} ms"


def workers_table(rows: list[Row]) -> str:
    header = ("repeat", "workers", "sessions", "workers' CPU %", "CPU µs/session·s", "master CPU %", "mock CPU %",
              "lag p99", "TTFA err p99", "held")  # fmt: skip
    body = [(r.repeat, r.workers, r.sessions, r.cpu_percent, r.cpu_us_per_session_s, r.master_cpu_percent,
             r.mock_cpu_percent, _ms(r.lag_p99_ms), _ms(r.ttfa_error_p99_ms), "yes" if r.held else "no")
            for r in rows]  # fmt: skip
    return markdown_table(header, body)


def workers_text(rows: list[Row], chunk_ms: int, worker_slice: float, headline: dict[str, Any]) -> str:
    where = f"each worker in its own {worker_slice:g} % slice of CPU 1" if worker_slice else "the workers share CPU 1"
    return (
        f"1 vs 2 workers ({chunk_ms} ms, manual): {where}, the master on CPU 0 with the mock;"
        f" {', '.join(f'{k} {v}' for k, v in headline.items())}\n\n{workers_table(rows)}"
    )


def ramp_workers(repeat: int, levels: list[int], chunk_ms: int, worker_cpu: float,
                 run: Callable[[int, int], RunResult], farm: MockFarm) -> list[Row]:  # fmt: skip
    """1 worker at each level and 2 workers at twice it, side by side."""

    def measure(workers: int) -> Callable[[int], Row]:
        def at(level: int) -> Row:
            sessions = level * workers
            result = run(sessions, workers)
            time.sleep(1.5)
            return _row(repeat, f"s2s_users x{workers}", chunk_ms, "manual", workers, sessions, result,
                        farm.truth(), worker_cpu)  # fmt: skip

        return at

    return side_by_side(repeat, levels, {f"x{workers}": measure(workers) for workers in (1, 2)})


def workers_scaling(rows: list[Row]) -> dict[str, Any]:
    """The most sessions 1 and 2 workers held (medians over repeats), and their ratio (the target: 2 hold at least
    1.8x one); the master's CPU where 2 workers held the most."""
    best: dict[int, list[Row]] = {1: [], 2: []}
    for repeat in sorted({r.repeat for r in rows}):
        for workers in (1, 2):
            held = [r for r in rows if r.repeat == repeat and r.workers == workers and r.held and not r.mock_bound]
            if held:
                best[workers].append(max(held, key=lambda r: r.sessions))
    one, two = (_median([float(r.sessions) for r in best[w]]) for w in (1, 2))
    return {
        "workers_held_1": one,
        "workers_held_2": two,
        "workers_scaling": round(two / one, 2) if one and two else None,
        "workers_master_cpu_percent": _median([r.master_cpu_percent for r in best[2]]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generator_capacity", description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="20:manual,100:manual,20:server_vad,100:server_vad",
                        help="chunk_ms:turn_mode, comma-separated")  # fmt: skip
    parser.add_argument("--levels-20", default=DEFAULT_LEVELS[20], help="sessions per level at 20 ms chunks")
    parser.add_argument("--levels-100", default=DEFAULT_LEVELS[100], help="sessions per level at 100 ms chunks")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", type=float, default=15.0, help="seconds measured per run")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after every session started")
    parser.add_argument("--workers", default="",
                        help="also 1 vs 2 workers (manual turns): the levels one worker ramps through, two through "
                             "twice each")  # fmt: skip
    parser.add_argument("--workers-chunk", type=int, default=20, help="chunk ms of the 1 vs 2 workers ramp")
    parser.add_argument("--worker-slice", type=float, default=0.0,
                        help="each worker's CPU budget in %% of a core, enforced by cgroup (root): for a machine "
                             "with fewer cores than workers + mock; 0: the workers share CPU 1")  # fmt: skip
    parser.add_argument("--slice-period", type=float, default=20.0, help="ms over which a slice's budget is kept")
    parser.add_argument("--mocks", type=int, default=1, help="mock processes sharing CPU 0")
    parser.add_argument(
        "--priority",
        choices=sorted(runs.PRIORITIES),
        default="realtime" if os.geteuid() == 0 else "normal",
        help="how the mock and the clients are scheduled (realtime: SCHED_FIFO 1, needs root; the default as root)",
    )
    parser.add_argument("--name", default="generator_capacity", help="results file name (results/NAME.json)")
    parser.add_argument("--label", default="", help="what this run measures (e.g. 'before')")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where NAME.json and NAME.md go")
    parser.add_argument(
        "--compiled", action="store_true", help="also s2s_users with its hot path compiled (scripts/compile.py)"
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds at 4 sessions: does it still run?")
    args = parser.parse_args()
    if args.smoke:
        # the first turns end about 5 s after their sessions start: a 7 s window sees every step of the pipeline
        args.configs, args.levels_20, args.repeats, args.window, args.settle = "20:manual", "4", 1, 7.0, 0.5
    runs.set_priority(args.priority)
    configs = [(int(c.split(":")[0]), c.split(":")[1]) for c in args.configs.split(",") if c]  # "": workers only
    levels = {20: [int(n) for n in args.levels_20.split(",")], 100: [int(n) for n in args.levels_100.split(",")]}
    rows: list[Row] = []
    worker_rows: list[Row] = []
    results_workers: dict[str, Any] = {}

    def tester(farm: MockFarm, scratch: Path, chunk_ms: int, mode: str, root: Path | None) -> Runner:
        return lambda n: runs.run_tester(farm, scratch, n, chunk_ms, mode, args.settle, args.window, package_root=root)

    def reference(farm: MockFarm, scratch: Path, chunk_ms: int, mode: str) -> Runner:
        return lambda n: runs.run_reference(farm, scratch, n, chunk_ms, mode, args.settle, args.window)

    def workers_tester(farm: MockFarm, scratch: Path, slices: runs.CpuSlices | None) -> Callable[[int, int], RunResult]:
        chunk_ms = args.workers_chunk
        return lambda n, w: runs.run_tester(farm, scratch, n, chunk_ms, "manual", args.settle, args.window, w,
                                            slices=slices)  # fmt: skip

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="s2s-generator-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        compiled = scratch / "compiled" if args.compiled else None
        if compiled is not None:
            script = runs.ROOT / "scripts" / "compile.py"
            subprocess.run([sys.executable, str(script), "build", "--copy", str(compiled)], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            # Where the client will run from, as it will: it imports the extensions, not the sources beside them.
            subprocess.run([sys.executable, str(compiled / "scripts" / "compile.py"), "check"], check=True,
                           cwd=compiled, env={**os.environ, "PYTHONPATH": str(compiled)})  # fmt: skip
        with MockFarm(scratch, args.mocks) as farm:
            for repeat in range(args.repeats):
                for chunk_ms, mode in configs:
                    clients = {"s2s_users": tester(farm, scratch, chunk_ms, mode, None)}
                    clients["asyncio"] = reference(farm, scratch, chunk_ms, mode)
                    if compiled is not None:
                        clients[COMPILED] = tester(farm, scratch, chunk_ms, mode, compiled)
                    rows += ramp(repeat, chunk_ms, mode, levels.get(chunk_ms, levels[20]), clients, farm)
            if args.workers:
                with contextlib.ExitStack() as stack:
                    slices = (
                        stack.enter_context(runs.CpuSlices(args.worker_slice, 2, args.slice_period))
                        if args.worker_slice
                        else None
                    )
                    for repeat in range(args.repeats):
                        worker_rows += ramp_workers(
                            repeat,
                            [int(n) for n in args.workers.split(",")],
                            args.workers_chunk,
                            args.worker_slice or 100.0,
                            workers_tester(farm, scratch, slices),
                            farm,
                        )
                results_workers = {**workers_scaling(worker_rows), "worker_slice_percent": args.worker_slice or None}
    names = ["s2s_users", *([COMPILED] if compiled is not None else []), "asyncio"]
    summaries = [summarize(rows, client, c, m) for c, m in configs for client in names]
    results: dict[str, Any] = {}
    for chunk_ms in (20, 100):
        theirs = _manual(summaries, "asyncio", chunk_ms)
        if theirs is not None:
            results[f"reference_sessions_per_core_{chunk_ms}ms"] = theirs.sessions_per_core
        for client, prefix in (("s2s_users", ""), (COMPILED, "compiled_")):
            ours = _manual(summaries, client, chunk_ms)
            if ours is None:
                continue
            results[f"{prefix}sessions_per_core_{chunk_ms}ms"] = ours.sessions_per_core
            if theirs and ours.sessions_per_core and theirs.sessions_per_core:
                results[f"{prefix}ratio_{chunk_ms}ms"] = round(ours.sessions_per_core / theirs.sessions_per_core, 2)
            results[f"{prefix}cpu_us_per_session_s_{chunk_ms}ms"] = ours.cpu_us_per_session_s
            results[f"{prefix}rss_kb_per_session_{chunk_ms}ms"] = ours.rss_kb_per_session
            results[f"{prefix}ttfa_error_p99_ms_{chunk_ms}ms"] = ours.ttfa_error_p99_ms
    parts = [table(summaries)] if summaries else []
    if worker_rows:
        parts.append(workers_text(worker_rows, args.workers_chunk, args.worker_slice, results_workers))
        results.update(results_workers)
    text = "\n\n".join(parts)
    conclusion = (
        f"{args.label + ': ' if args.label else ''}"
        + ", ".join(f"{key} {value}" for key, value in results.items())
        + f". Held = chunk lag p99 ≤ {HELD_P99_MS:g} ms, CPU ≤ {SATURATED_CPU:g} %, no failed turn; sessions per core"
        f" = highest level held / CPU share there, median of {args.repeats} repeats;"
        f" {time.monotonic() - started:.0f} s."
    )
    publish(
        args.name,
        "Generator capacity: " + ("sessions per core, s2s_users vs plain asyncio" if summaries else "1 vs 2 workers"),
        text,
        conclusion,
        rows + worker_rows,
        {
            **machine(),
            "label": args.label,
            "configs": args.configs,
            "levels": {str(k): v for k, v in levels.items()},
            "repeats": args.repeats,
            "window_s": args.window,
            "settle_s": args.settle,
            "mocks": args.mocks,
            "workers": {
                "levels": args.workers,
                "chunk_ms": args.workers_chunk,
                "slice_percent": args.worker_slice,
                "slice_period_ms": args.slice_period,
            },  # fmt: skip
            "priority": args.priority,
            "cores": {"mock": runs.MOCK_CPU, "client": runs.CLIENT_CPU},
            "headline": results,
            "summaries": [dataclasses.asdict(s) for s in summaries],
        },
        out=args.results_dir,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
