"""How many points per second the InfluxDB sink takes per worker without raising the users' pacing lag.

Run from the repository root:  .venv/bin/python -m benchmarks.influx_sink [--rates 0,2000,...] [--seconds 10]

A Locust worker in miniature: gevent monkey-patched, ``--users`` greenlets pace 20 ms audio chunks on deadlines
(lag = how late each send is), while a producer greenlet hands the sink turn points at the offered rate. The
sink's writer shares the process with the users, as in a worker. Each rate writes to a fresh database of a real
InfluxDB (influxd 1.x behind the nginx rewrite of /api/v2/write, as in the tests), and the benchmark counts the
stored points back: "landed" must equal "offered" for every row.

Criterion: a rate is sustained when every point landed and the p99 pacing lag stays within the baseline's
(rate 0: no sink) p99 + 5 ms. The table, a results JSON and a Markdown copy go to ``benchmarks/results/``.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402 - after monkey-patching, as in Locust
import dataclasses  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

from benchmarks.results import markdown_table, publish  # noqa: E402
from s2s_users.core.reporting.summary import percentile  # noqa: E402
from s2s_users.io.sinks.influx import InfluxSettings, InfluxSink  # noqa: E402
from tests.support.influx import InfluxService  # noqa: E402
from tests.support.records import LABELS  # noqa: E402
from tests.support.records import turn as make_turn  # noqa: E402

CHUNK_S = 0.020
TICK_S = 0.010
LAG_MARGIN_MS = 5.0


@dataclasses.dataclass(frozen=True)
class Row:
    offered_per_s: int
    written_per_s: float
    landed: int
    offered: int
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    cpu_percent: float
    sustained: bool = False


def _pace(lags: list[float], stop: float) -> None:
    due = time.monotonic()
    while due < stop:
        due += CHUNK_S
        gevent.sleep(max(due - time.monotonic(), 0.0))
        lags.append((time.monotonic() - due) * 1000)


def _produce(sink: InfluxSink | None, rate: int, stop: float) -> int:
    if sink is None or rate == 0:
        return 0
    produced = 0
    start = time.monotonic()
    while time.monotonic() < stop:
        due = int((time.monotonic() - start) * rate)
        while produced < due:
            sink.write_turn(LABELS, "s-bench", make_turn(produced % 60, started_at=1_760_000_000.0 + produced))
            produced += 1
        gevent.sleep(TICK_S)
    return produced


def measure(service: InfluxService, rate: int, users: int, seconds: float, spool: Path) -> Row:
    sink = None
    database = f"bench_{rate}"
    if rate:
        service.create_database(database)
        settings = InfluxSettings(service.url, service.token, "-", database, spool / str(rate), close_deadline_s=60)
        sink = InfluxSink(settings, run_id="bench", worker="worker-0")
    lags: list[float] = []
    cpu0, wall0 = time.process_time(), time.monotonic()
    stop = wall0 + seconds
    pacers = [gevent.spawn(_pace, lags, stop) for _ in range(users)]
    producer = gevent.spawn(_produce, sink, rate, stop)
    gevent.joinall([*pacers, producer])
    cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100
    written = sink.written if sink else 0
    if sink is not None:
        sink.close()
    landed = service.query_count(database, "s2s_turn", "turn") if rate else 0
    ordered = sorted(lags)
    return Row(
        offered_per_s=rate,
        written_per_s=round(written / seconds, 1),
        landed=landed,
        offered=int(producer.value or 0),
        lag_p50_ms=round(percentile(ordered, 50) or 0.0, 2),
        lag_p99_ms=round(percentile(ordered, 99) or 0.0, 2),
        lag_max_ms=round(ordered[-1] if ordered else 0.0, 2),
        cpu_percent=round(cpu, 1),
    )


def table(rows: list[Row]) -> str:
    header = ("offered points/s", "written/s (during run)", "landed / offered", "lag p50 ms", "lag p99 ms",
              "lag max ms", "CPU %", "sustained")  # fmt: skip
    return markdown_table(header, [
        (r.offered_per_s, r.written_per_s, f"{r.landed} / {r.offered}", r.lag_p50_ms, r.lag_p99_ms, r.lag_max_ms,
         r.cpu_percent, "yes" if r.sustained else "no")
        for r in rows
    ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.influx_sink", description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="0,500,1000,2000,5000,10000", help="offered points/s; 0 = baseline")
    parser.add_argument("--users", type=int, default=50, help="pacing greenlets (sessions) in the worker")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    if rates[0] != 0:
        rates.insert(0, 0)
    with tempfile.TemporaryDirectory(prefix="s2s-bench-") as scratch:
        service = InfluxService(Path(scratch) / "influx")
        try:
            service.start()
            rows = [measure(service, rate, args.users, args.seconds, Path(scratch) / "spool") for rate in rates]
        finally:
            service.stop()
    baseline = rows[0].lag_p99_ms
    rows = [
        dataclasses.replace(r, sustained=r.landed == r.offered and r.lag_p99_ms <= baseline + LAG_MARGIN_MS)
        for r in rows
    ]
    rows[0] = dataclasses.replace(rows[0], sustained=True)
    best = max((r.offered_per_s for r in rows if r.sustained), default=0)
    conclusion = (
        f"Highest rate sustained: {best} points/s per worker (all points landed, lag p99 within the "
        f"baseline's {baseline} ms + {LAG_MARGIN_MS:g} ms, {args.users} pacing users)."
    )
    publish(
        "influx_sink",
        "InfluxDB sink benchmark",
        table(rows),
        conclusion,
        rows,
        {"users": args.users, "seconds": args.seconds, "chunk_ms": CHUNK_S * 1000},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
