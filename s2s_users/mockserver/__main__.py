"""python -m s2s_users.mockserver: the mock OpenAI Realtime GA server, standalone."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from s2s_users.exceptions import ConfigError
from s2s_users.mockserver.profiles import DEFAULT_PROFILES
from s2s_users.mockserver.scenario import load_scenario
from s2s_users.mockserver.server import MockRealtimeServer


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m s2s_users.mockserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--time-scale", type=float, default=1.0, help="divide all server-side timing by this")
    parser.add_argument("--api-key", default="mock-key")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--ceiling-s",
        action="append",
        default=[],
        metavar="MODEL=SECONDS",
        help="set a model's audio ceiling (SECONDS=none removes it); repeatable",
    )
    parser.add_argument("--scenario", type=Path, help="TOML or JSON scenario file (see scenarios/ for examples)")
    parser.add_argument("--truth", type=Path, help="append one JSON line per session: what the mock really did")
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=0,
        help="exit when this process is gone (the embedded mock must not outlive a killed Locust worker)",
    )
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale must be more than 0")
    return args


async def run(args: argparse.Namespace) -> None:
    profiles = dict(DEFAULT_PROFILES)
    seed = args.seed
    if args.scenario is not None:
        try:
            scenario = load_scenario(args.scenario)
        except ConfigError as exc:
            raise SystemExit(f"error: {exc}") from None
        profiles = scenario.profiles
        seed = seed or scenario.seed
    for item in args.ceiling_s:
        model, _, seconds = item.partition("=")
        if model not in profiles:
            raise SystemExit(f"error: --ceiling-s names an unknown model {model!r}: use one of {sorted(profiles)}")
        profiles[model] = profiles[model].with_ceiling(None if seconds == "none" else float(seconds))
    mock = MockRealtimeServer(profiles, args.time_scale, args.api_key, seed, truth=args.truth)
    server = await mock.start(args.host, args.port)
    port = server.sockets[0].getsockname()[1] if server.sockets else args.port
    print(f"s2s mock listening on ws://{args.host}:{port}/v1/realtime", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.parent_pid:
        loop.create_task(_stop_when_orphaned(args.parent_pid, stop))
    await stop.wait()
    server.close()
    await server.wait_closed()
    mock.close()


async def _stop_when_orphaned(parent_pid: int, stop: asyncio.Event) -> None:
    # A SIGKILLed parent runs no clean-up: its child is re-parented, which is how we notice.
    while os.getppid() == parent_pid:
        await asyncio.sleep(1.0)
    stop.set()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="mock: %(message)s")
    asyncio.run(run(parse_args(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
