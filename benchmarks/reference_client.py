"""The Python reference for the generator benchmark: a plain asyncio + ``websockets`` client doing the same work.

Run by ``benchmarks.generator_capacity`` (pinned to the tester's core), never by users:

    python -m benchmarks.reference_client --url ws://127.0.0.1:PORT/v1/realtime?model=bench --sessions 100 \\
        --rate 50 --chunk-ms 20 --turn-mode manual --out results.json

Same work as an s2s_users session, written as a straightforward asyncio program would be: the same prompts cut into
the same base64 chunks (encoded once per process, as the design asks of us too), the same ``session.update`` and
append JSON text, real-time pacing on absolute deadlines (chunk k due at t0 + k·chunk), commit + response.create in
manual mode or trailing silence in server-VAD mode, and for every server message a full JSON decode; every audio
delta is base64-decoded, counted and peak-checked; 1 s think time; websockets' defaults as our transport sets them
(no compression, keepalive pings every 20 s). Sessions start at ``--rate`` per second, as Locust spawns users.

Measured as the tester measures itself: the lag of every chunk (``LagHistogram``, from the moment the last session
started, like ``--reset-stats``; turns cut at the end left out) and, per turn, when the user's audio ended and when
the first audio arrived (epoch seconds), for the TTFA error against the mock's truth log. Runs until SIGTERM (or
``--seconds``), then writes ``--out`` and prints ``done``. Prints ``ready`` once every session has started.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from s2s_users.core.engine.script import Script, build_script
from s2s_users.core.metrics.lag import LagHistogram
from s2s_users.core.protocols.openai_realtime import OpenAIRealtimeProtocol, RealtimeSettings
from s2s_users.core.protocols.openai_wire import SAMPLE_RATE
from s2s_users.io.prompts import load_prompts

THINK_S = 1.0
VAD_SILENCE_MS = 800  # as --vad-silence-ms
TURN_TIMEOUT_S = 30.0


class Run:
    """What every session of the process shares: the script, the lag histogram, the turns seen."""

    def __init__(self, script: Script, turn_mode: str) -> None:
        self.script = script
        self.turn_mode = turn_mode
        self.pacing = LagHistogram()
        self.turns: list[tuple[str, int, float, float | None, bool]] = []
        self.errors: list[str] = []
        adapter = OpenAIRealtimeProtocol(RealtimeSettings(turn_mode=turn_mode))
        adapter.configure()
        (self.session_update,) = adapter.messages_to_send()


class Turn:
    """What the reader tells the writer about the response in progress."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.first_audio_at: float | None = None
        self.audio_bytes = 0
        self.peak = 0
        self.status = ""


async def reader(ws: ClientConnection, state: dict[str, Any]) -> None:
    async for message in ws:
        event = json.loads(message)
        kind = event.get("type")
        turn: Turn | None = state.get("turn")
        if kind == "response.output_audio.delta" and turn is not None:
            pcm = base64.b64decode(event["delta"])
            if turn.first_audio_at is None and pcm:
                turn.first_audio_at = time.time()
            turn.audio_bytes += len(pcm)
            samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
            if samples.size:
                turn.peak = max(turn.peak, int(samples.max()), -int(samples.min()))
        elif kind == "response.output_audio_transcript.delta" and turn is not None:
            state["transcript_chars"] = state.get("transcript_chars", 0) + len(event.get("delta", ""))
        elif kind == "response.done" and turn is not None:
            turn.status = event["response"]["status"]
            turn.done.set()
        elif kind == "session.updated":
            state["configured"].set()
        elif kind == "error":
            state["errors"].append(event["error"].get("code"))


async def session(run: Run, url: str, headers: dict[str, str]) -> None:
    loop = asyncio.get_running_loop()
    async with connect(url, additional_headers=headers, compression=None, max_size=32 * 1024 * 1024,
                       ping_interval=20, ping_timeout=60, open_timeout=15) as ws:  # fmt: skip
        session_id = json.loads(await ws.recv())["session"]["id"]
        state: dict[str, Any] = {"configured": asyncio.Event(), "errors": run.errors}
        read = asyncio.create_task(reader(ws, state))
        try:
            await ws.send(run.session_update)
            await asyncio.wait_for(state["configured"].wait(), TURN_TIMEOUT_S)
            index = 0
            while True:
                index += 1
                prompt = run.script.prompt_for_turn(index)
                turn = state["turn"] = Turn()
                lags = LagHistogram()
                t0 = loop.time()
                audio_end = 0.0
                for k, chunk in enumerate(prompt.chunks_b64):
                    due = t0 + k * run.script.chunk_s
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    lags.add(loop.time() - due)
                    await ws.send('{"type":"input_audio_buffer.append","audio":"' + chunk + '"}')
                    if k + 1 == prompt.prompt_chunks:
                        audio_end = time.time()
                        if run.turn_mode == "manual":
                            for kind in ("input_audio_buffer.commit", "response.create"):
                                await ws.send(json.dumps({"type": kind, "event_id": f"evt_ref_{index}_{kind}"}))
                await asyncio.wait_for(turn.done.wait(), TURN_TIMEOUT_S)
                run.pacing.merge(lags)  # a turn that ended (a cut one never gets here)
                ok = turn.status == "completed" and turn.audio_bytes > 0
                run.turns.append((session_id, index, audio_end, turn.first_audio_at, ok))
                await asyncio.sleep(THINK_S)
        finally:
            read.cancel()


async def main_async(args: argparse.Namespace) -> Run:
    prompts = load_prompts(None, SAMPLE_RATE)
    silence = VAD_SILENCE_MS if args.turn_mode == "server_vad" else 0
    script = build_script([(p.prompt_id, p.pcm) for p in prompts], SAMPLE_RATE, args.chunk_ms, silence)
    run = Run(script, args.turn_mode)
    headers = {"Authorization": f"Bearer {args.api_key}"}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def guarded() -> None:
        try:
            await session(run, args.url, headers)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - counted, shown in the results: a reference must not hide failures
            run.errors.append(f"{type(exc).__name__}: {exc}")

    tasks = []
    for index in range(args.sessions):
        tasks.append(asyncio.create_task(guarded()))
        await asyncio.sleep(1 / args.rate if index + 1 < args.sessions else 0)
    run.pacing.clear()  # as --reset-stats: the figures start once every session has started
    print("ready", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), args.seconds)
    except TimeoutError:
        pass
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reference_client", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", default="mock-key")
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--rate", type=float, default=50.0, help="sessions started per second")
    parser.add_argument("--chunk-ms", type=int, default=20)
    parser.add_argument("--turn-mode", choices=("manual", "server_vad"), default="manual")
    parser.add_argument("--seconds", type=float, default=3600.0, help="stop after this long (or at SIGTERM)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    run = asyncio.run(main_async(args))
    args.out.write_text(
        json.dumps(
            {
                "pacing": run.pacing.to_wire(),
                "turns": run.turns,
                "errors": run.errors[:20],
                "error_count": len(run.errors),
            }
        )  # fmt: skip
    )
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
