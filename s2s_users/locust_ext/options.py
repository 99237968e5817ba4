"""The product's command-line options, added through Locust's ``init_command_line_parser`` hook.

Every option also shows in the web UI's start form (Locust sends them to the workers), except where noted.
"""

from __future__ import annotations

from typing import Any

DEFAULT_MODELS = "gpt-realtime,gpt-realtime-2"


def add_options(parser: Any) -> None:
    """Register the s2s options on Locust's argument parser."""
    # Straight on the parser: Locust's web UI flags (include_in_web_ui, is_secret) are not known to groups.
    group = parser
    group.add_argument(
        "--s2s-url",
        default="",
        env_var="S2S_URL",
        help="Realtime WebSocket URL, e.g. wss://api.openai.com/v1/realtime. Empty: the embedded mock server",
    )
    group.add_argument(
        "--s2s-model",
        default=DEFAULT_MODELS,
        env_var="S2S_MODEL",
        help="Comma-separated models; users are spread evenly across them",
    )
    parser.add_argument(
        "--s2s-api-key",
        default="",
        env_var="S2S_API_KEY",
        is_secret=True,
        help="API key (default: OPENAI_API_KEY, or AZURE_OPENAI_API_KEY for Azure URLs). Never logged",
    )
    group.add_argument("--s2s-voice", default="marin", help="Assistant voice")
    group.add_argument(
        "--s2s-instructions",
        default="You are a friendly voice assistant. Answer conversationally in a few sentences.",
        help="Session instructions (system prompt)",
    )
    group.add_argument(
        "--turn-mode",
        default="manual",
        choices=["manual", "server_vad"],
        help="manual: we commit and ask for each response; server_vad: the server detects the end of speech",
    )
    group.add_argument("--turns", type=int, default=60, help="Turns per session")
    group.add_argument(
        "--sessions-per-user",
        type=int,
        default=0,
        help="Sessions each user plays back to back; 0 = until the run ends",
    )
    group.add_argument(
        "--s2s-pace",
        default="realtime",
        help="How fast prompt audio is sent: realtime, a speed factor like 4, or burst",
    )
    group.add_argument("--chunk-ms", type=int, default=20, help="Prompt audio per append message, in ms")
    group.add_argument("--think-time", type=float, default=1.0, help="Pause between turns, in seconds")
    group.add_argument(
        "--turn-timeout",
        type=float,
        default=30.0,
        help="Seconds to wait for first audio (and between events once audio flows) before a timeout.*",
    )
    group.add_argument("--prompts", default="", help="Folder of WAV/FLAC prompts (default: audio_fixtures/)")
    group.add_argument(
        "--report-dir",
        default="",
        include_in_web_ui=False,
        help="Where sessions.jsonl and report.md go (default: runs/<run id>/)",
    )
    group.add_argument(
        "--mock-time-scale",
        type=float,
        default=1.0,
        help="Embedded mock only: divide its timing (first audio, streaming) by this; audio amounts stay",
    )
    group.add_argument(
        "--mock-scenario",
        default="",
        help="Embedded mock only: a TOML/JSON scenario file (profiles, faults, seed), or the name of a bundled one "
        "(s2s_users/mockserver/scenarios/). Its truth log goes to the report folder",
    )
    group.add_argument(
        "--silence-floor-dbfs",
        type=float,
        default=-50.0,
        help="A turn whose audio never peaks above this is response.near_silent",
    )
    group.add_argument(
        "--vad-silence-ms",
        type=int,
        default=800,
        help="server_vad mode: silence sent after each prompt so the server detects its end",
    )
    group.add_argument("--run-id", default="", env_var="S2S_RUN_ID", help="Run id (default: generated)")
    group.add_argument("--scenario", default="default", help="A label for this run's scenario (a tag)")
    group.add_argument(
        "--influx-url",
        default="",
        env_var="S2S_INFLUX_URL",
        help="InfluxDB URL (v2 write API: InfluxDB 2.x/3.x, or 1.8+); empty: nothing is written",
    )
    group.add_argument(
        "--influx-token",
        default="",
        env_var="S2S_INFLUX_TOKEN",
        is_secret=True,
        help="InfluxDB token (1.8: user:password). Never logged",
    )
    group.add_argument("--influx-org", default="", env_var="S2S_INFLUX_ORG", help="InfluxDB organisation")
    group.add_argument(
        "--influx-bucket", default="s2s", env_var="S2S_INFLUX_BUCKET", help="InfluxDB bucket (1.8: db/rp)"
    )
    group.add_argument(
        "--check-silent-failure-rate",
        type=float,
        default=None,
        help="CI gate: exit 3 if a model's share of sessions with a silent failure is above this (0 = none allowed)",
    )
    group.add_argument(
        "--check-min-capacity-minutes",
        type=float,
        default=None,
        help="CI gate: exit 3 if a model's median capacity to silent failure is below this many minutes",
    )
    group.add_argument(
        "--check-ttfa-p95-ms", type=float, default=None, help="CI gate: exit 3 if a model's TTFA p95 is above this"
    )
