"""How many concurrent sessions the embedded mock streams in real time on one core.

Run from the repository root:  .venv/bin/python -m benchmarks.mock_capacity [--sessions 250,500,1000]

The mock runs in its own process pinned to CPU 0; the clients (asyncio, in this process) are pinned to CPU 1 so
they do not steal the mock's core. Each client opens a session, sets manual turns, sends 200 ms of audio, commits,
asks for a response of ``--audio-s`` seconds of audio streamed in real time in 100 ms deltas, and reads until
``response.done``. Per session it records the time to first audio and the stream rate: seconds of audio received
per second of wall time between the first and the last delta (real time is 1.0). All sessions stream at once.

Criterion: a level is held when every session finished, the slowest 5% still streamed at >= 0.97x real time and
the TTFA p95 stayed within 250 ms of the profile's 500 ms. The mock's own CPU share is reported (one core = 100%).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from websockets.asyncio.client import connect

from benchmarks.results import markdown_table, publish
from s2s_users.core.reporting.summary import percentile

TTFA_S = 0.5
SCENARIO = """
name = "capacity"
seed = 5
[models.bench]
audio = {{ dist = "constant", seconds = {audio_s} }}
ttfa_s = {ttfa_s}
stream_speed = 1.0
delta_ms = 100
"""
AUDIO_200MS = base64.b64encode(b"\x00\x10" * 4800).decode()
DELTA = re.compile(r'"type":"response\.output_audio\.delta"')


@dataclasses.dataclass(frozen=True)
class Row:
    sessions: int
    finished: int
    mock_cpu_percent: float
    client_cpu_percent: float
    ttfa_p50_ms: float
    ttfa_p95_ms: float
    stream_rate_p5: float
    stream_rate_p50: float
    held: bool = False


async def one_session(url: str, results: list[tuple[float, float]]) -> None:
    async with connect(url, additional_headers={"Authorization": "Bearer mock-key"}, compression=None,
                       max_size=None, open_timeout=60, ping_interval=None) as ws:  # fmt: skip
        await ws.recv()  # session.created
        await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": None}}}}))  # fmt: skip
        await ws.recv()  # session.updated
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": AUDIO_200MS}))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        asked = time.monotonic()
        await ws.send(json.dumps({"type": "response.create"}))
        first = last = 0.0
        deltas = 0
        async for message in ws:
            text = message if isinstance(message, str) else message.decode()
            if DELTA.search(text, 0, 80):
                last = time.monotonic()
                first = first or last
                deltas += 1
            elif text.startswith('{"type":"response.done"'):
                break
        audio_s = deltas * 0.1
        streamed_s = max(last - first, 1e-9) + 0.1  # the last delta's 100 ms counts too
        results.append((first - asked, audio_s / streamed_s))


async def level(url: str, sessions: int) -> list[tuple[float, float]]:
    results: list[tuple[float, float]] = []

    async def staggered(index: int) -> None:
        await asyncio.sleep(index * 0.002)  # a 500/s ramp: every session still overlaps all the others
        await one_session(url, results)

    outcomes = await asyncio.gather(*(staggered(i) for i in range(sessions)), return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        print(f"  {len(failures)} sessions failed, e.g. {failures[0]!r}", file=sys.stderr)
    return results


def measure(sessions: int, audio_s: float, scenario: Path) -> Row:
    command = [sys.executable, "-m", "s2s_users", "mock", "--port", "0", "--scenario", str(scenario)]
    mock = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert mock.stdout is not None
        url = mock.stdout.readline().rsplit(" ", 1)[-1].strip() + "?model=bench"
        process = psutil.Process(mock.pid)
        process.cpu_affinity([0])
        psutil.Process().cpu_affinity([1 % (os.cpu_count() or 1)])
        process.cpu_percent()
        me = psutil.Process()
        me.cpu_percent()
        results = asyncio.run(level(url, sessions))
        mock_cpu, client_cpu = process.cpu_percent(), me.cpu_percent()
    finally:
        mock.terminate()
        mock.wait(10)
    ttfa = sorted(r[0] * 1000 for r in results)
    rates = sorted(r[1] for r in results)
    return Row(
        sessions=sessions,
        finished=len(results),
        mock_cpu_percent=round(mock_cpu, 1),
        client_cpu_percent=round(client_cpu, 1),
        ttfa_p50_ms=round(percentile(ttfa, 50) or 0.0, 1),
        ttfa_p95_ms=round(percentile(ttfa, 95) or 0.0, 1),
        stream_rate_p5=round(percentile(rates, 5) or 0.0, 3),
        stream_rate_p50=round(percentile(rates, 50) or 0.0, 3),
    )


def table(rows: list[Row]) -> str:
    header = ("sessions", "finished", "mock CPU %", "client CPU %", "TTFA p50 ms", "TTFA p95 ms", "stream rate p5",
              "p50", "held")  # fmt: skip
    return markdown_table(header, [
        (r.sessions, r.finished, r.mock_cpu_percent, r.client_cpu_percent, r.ttfa_p50_ms, r.ttfa_p95_ms,
         f"{r.stream_rate_p5}x", f"{r.stream_rate_p50}x", "yes" if r.held else "no")
        for r in rows
    ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mock_capacity", description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", default="250,500,1000", help="concurrent sessions per level")
    parser.add_argument("--audio-s", type=float, default=15.0, help="assistant audio per response")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s2s-mock-bench-") as scratch:
        scenario = Path(scratch) / "capacity.toml"
        scenario.write_text(SCENARIO.format(audio_s=args.audio_s, ttfa_s=TTFA_S))
        rows = [measure(int(n), args.audio_s, scenario) for n in args.sessions.split(",")]
    rows = [
        dataclasses.replace(
            r,
            held=r.finished == r.sessions and r.stream_rate_p5 >= 0.97 and r.ttfa_p95_ms <= TTFA_S * 1000 + 250,
        )
        for r in rows
    ]
    best = max((r.sessions for r in rows if r.held), default=0)
    conclusion = (
        f"Highest level held: {best} concurrent sessions streaming in real time from one mock process on one core "
        f"(slowest 5% >= 0.97x real time, TTFA p95 <= {TTFA_S * 1000 + 250:.0f} ms)."
    )
    publish(
        "mock_capacity",
        "Mock capacity benchmark",
        table(rows),
        conclusion,
        rows,
        {"audio_s": args.audio_s, "delta_ms": 100},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
