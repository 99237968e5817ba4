"""The product's command-line options, as one table, added through Locust's ``init_command_line_parser`` hook.

Every option also shows in the web UI's start form (Locust sends them to the workers), except where noted.
The table is also what the start form's values are typed and checked against (``webform``), so that a value
typed in the form means what it means on the command line. Every option can also be set in ``locust.conf``
(its flag without the dashes: ``turns = 60``) and from an environment variable (``Option.env_var``: ``S2S_`` and
the flag in capitals, without a leading ``s2s-``: ``--s2s-url`` is ``S2S_URL``, ``--turns`` is ``S2S_TURNS``);
the command line wins over the environment, which wins over the file.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.protocols.providers import PROTOCOLS

DEFAULT_MODELS = "gpt-realtime,gpt-realtime-2"
ENV_PREFIX = "S2S_"
NO_SHAPE = "none"
SHAPES = (NO_SHAPE, "ramp-and-hold", "steps", "spike")


def timespan(text: str) -> int:
    """Seconds from a Locust time span (``90``, ``90s``, ``10m``, ``1h30m``), as ``--run-time`` takes them."""
    # Imported here: importing Locust monkey-patches the process, and the start form's tests import this table.
    from locust.util.timespan import parse_timespan

    return int(parse_timespan(text))


def flag(text: str) -> bool:
    """An on/off option's value as typed in the start form (a checkbox posts true or false)."""
    value = text.strip().lower()
    if value in ("true", "on", "yes", "1"):
        return True
    if value in ("false", "off", "no", "0"):
        return False
    raise ValueError(text)


UNTIL_FAILURE = "until-failure"


class BadValue(ValueError, argparse.ArgumentTypeError):
    """A value refused with our own words: argparse prints them, the start form's parser catches a ValueError."""


def turn_count(text: str) -> int | str:
    """``--turns``: a whole number, or ``until-failure``."""
    value = text.strip()
    if value == UNTIL_FAILURE:
        return UNTIL_FAILURE
    try:
        return int(value)
    except ValueError:
        raise BadValue(f"{value!r} is not a whole number or until-failure") from None


_KINDS: dict[Callable[[str], Any], str] = {
    turn_count: "a whole number or until-failure",
    int: "a whole number",
    float: "a number",
    timespan: "a time span like 90s, 10m or 1h30m",
    flag: "true or false",
}


@dataclass(frozen=True, slots=True)
class Option:
    """One option: its flag, default, type and help; ``secret`` ones never leave the server's memory."""

    flag: str
    default: Any
    help: str
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    secret: bool = False
    web: bool = True

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    @property
    def env_var(self) -> str:
        """``S2S_`` and the flag in capitals; a leading ``s2s-`` is not repeated (``--s2s-url``: ``S2S_URL``)."""
        name = self.flag.removeprefix("--").removeprefix("s2s-")
        return ENV_PREFIX + name.replace("-", "_").upper()

    def parse(self, text: str) -> Any:
        """A typed value from text (a start-form field), with the command line's checks; one-line errors."""
        value = text.strip()
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{self.flag} {value!r} is not valid: use {' or '.join(self.choices)}")
        try:
            return self.type(value)
        except ValueError:
            kind = _KINDS.get(self.type, "a valid value")
            raise ConfigError(f"{self.flag} {value!r} is not {kind}") from None


OPTIONS: tuple[Option, ...] = (
    Option(
        "--s2s-url",
        "",
        "Realtime WebSocket URL, e.g. wss://api.openai.com/v1/realtime. Empty: the embedded mock server",
    ),
    Option(
        "--s2s-protocol",
        "auto",
        "What the target speaks: openai, azure (Azure OpenAI realtime, Azure AI Voice Live), gemini (Gemini Live); "
        "auto: read from --s2s-url (the embedded mock: openai)",
        choices=PROTOCOLS,
    ),
    Option(
        "--s2s-model",
        DEFAULT_MODELS,
        "Comma-separated models (Azure: deployments), each with an optional weight (gpt-realtime:3,gpt-realtime-2:1); "
        "users are spread across them by weight (evenly without weights)",
    ),
    Option(
        "--s2s-api-key",
        "",
        "API key (default: OPENAI_API_KEY; AZURE_OPENAI_API_KEY for Azure; GEMINI_API_KEY or GOOGLE_API_KEY for "
        "Gemini). Never logged, never shown: leave the start form's field empty to keep the key the server has",
        secret=True,
    ),
    Option(
        "--azure-ad-token",
        "",
        "Azure: a Microsoft Entra ID token, sent as Bearer instead of the api-key header (default: "
        "AZURE_OPENAI_AD_TOKEN). Never logged, never shown",
        secret=True,
    ),
    Option(
        "--gemini-resume",
        False,
        "Gemini: ask for resumption handles and, after a goAway, go on with the conversation over a new "
        "connection (counted in the record's reconnects) instead of letting the session expire",
        type=flag,
    ),
    Option("--s2s-voice", "", "Assistant voice (default: marin for OpenAI and Azure, Puck for Gemini)"),
    Option(
        "--s2s-instructions",
        "You are a friendly voice assistant. Answer conversationally in a few sentences.",
        "Session instructions (system prompt)",
    ),
    Option(
        "--turn-mode",
        "manual",
        "manual: we commit and ask for each response; server_vad: the server detects the end of speech (and the "
        "client keeps streaming --carrier between turns, as a microphone does); manual,server_vad: users split "
        "between both, to compare them in one run",
    ),
    Option(
        "--carrier",
        "silence",
        "server_vad: what the client streams between prompts, in real time: silence, noise (about -60 dBFS), "
        "or off (only --vad-silence-ms after each prompt)",
        choices=("silence", "noise", "off"),
    ),
    Option(
        "--barge-in-after",
        None,
        "Speak over the answer this many seconds after its first audio: the next prompt starts while the assistant "
        "still speaks (server_vad: the server should stop). Measures how long it keeps streaming",
        type=float,
    ),
    Option(
        "--barge-in-share",
        1.0,
        "With --barge-in-after: the share of turns that barge in (0.3: about every third turn)",
        type=float,
    ),
    Option(
        "--rotate-after",
        None,
        "Session rotation (the seed's mitigation): after this much assistant audio in a provider session (4m, "
        "240s), at a turn boundary, go on in a fresh session told a summary of the conversation",
        type=timespan,
    ),
    Option(
        "--rotate-after-turns", 0, "Session rotation after this many turns in a provider session (0: never)", type=int
    ),
    Option(
        "--ab-rotate-after",
        None,
        "A/B in one run: half the users of every model rotate after this much assistant audio (arm 'rotated'), "
        "half do not ('control'); the report puts the arms side by side",
        type=timespan,
    ),
    Option(
        "--summary-chars", 2000, "The summary re-injected into a fresh session: at most this many characters", type=int
    ),
    Option(
        "--reconnect-on-cap",
        False,
        "A conversation that hits the provider's session cap (OpenAI 60 min, Azure about 30) goes on over a fresh "
        "session, counted in the record; without it the session ends as session.expired (censored)",
        type=flag,
    ),
    Option(
        "--expected-capacity",
        "",
        "Early warning: the assistant audio a session is expected to hold before its silent failure, for every "
        "model (5m) or per model (gpt-realtime-2=5m); without it, learned from the run's own silent failures",
    ),
    Option("--warn-at", 0.8, "Early warning: fire at this share of the expected capacity", type=float),
    Option("--prices", "", "A price table (TOML or JSON, USD per 1M tokens by model prefix) instead of the built-in"),
    Option(
        "--max-cost",
        None,
        "Budget: stop the whole run, every worker, once the estimated cost passes this many USD",
        type=float,
    ),
    Option(
        "--turns",
        60,
        "Turns per session; until-failure: loop the prompts until the session's first failure (and the turn after "
        "it), the provider's cap, or a safety bound (--max-session-minutes, --max-session-turns)",
        type=turn_count,
    ),
    Option(
        "--max-session-minutes",
        65.0,
        "--turns until-failure: end a session cleanly (censored, outcome bounded) after this many minutes of wall time",
        type=float,
    ),
    Option(
        "--max-session-turns",
        0,
        "--turns until-failure: end a session cleanly (censored, outcome bounded) after this many turns; 0: no bound",
        type=int,
    ),
    Option(
        "--record-audio",
        "failures",
        "Audio evidence as WAV in the report folder: failures (the turn at a session's first failure and the one "
        "before it), all (every turn), none; with the user's prompt audio as sent",
        choices=("failures", "all", "none"),
    ),
    Option(
        "--record-audio-max-mb",
        200.0,
        "Disk budget of the audio evidence (the run's evidence/ folder); once reached no more WAVs are written",
        type=float,
    ),
    Option("--sessions-per-user", 0, "Sessions each user plays back to back; 0 = until the run ends", type=int),
    Option("--s2s-pace", "realtime", "How fast prompt audio is sent: realtime, a speed factor like 4, or burst"),
    Option("--chunk-ms", 20, "Prompt audio per append message, in ms", type=int),
    Option("--think-time", 1.0, "Pause between turns, in seconds", type=float),
    Option(
        "--turn-timeout",
        30.0,
        "Seconds to wait for first audio (and between events once audio flows) before a timeout.*",
        type=float,
    ),
    Option("--prompts", "", "Folder of WAV/FLAC prompts (default: audio_fixtures/)"),
    Option("--report-dir", "", "Where sessions.jsonl and report.md go (default: runs/<run id>/)", web=False),
    Option(
        "--mock-time-scale",
        1.0,
        "Embedded mock only: divide its timing (first audio, streaming) by this; audio amounts stay",
        type=float,
    ),
    Option(
        "--mock-scenario",
        "",
        "Embedded mock only: a TOML/JSON scenario file (profiles, faults, seed), or the name of a bundled one "
        "(s2s_users/core/mock/scenarios/). Its truth log goes to the report folder",
    ),
    Option(
        "--silence-floor-dbfs",
        -50.0,
        "A turn whose audio never peaks above this is response.near_silent",
        type=float,
    ),
    Option(
        "--vad-silence-ms",
        800,
        "server_vad mode: silence sent after each prompt so the server detects its end",
        type=int,
    ),
    Option("--run-id", "", "Run id (default: generated once per run)"),
    Option("--scenario", "default", "A label for this run's scenario (a tag)"),
    Option(
        "--influx-url",
        "",
        "InfluxDB URL (v2 write API: InfluxDB 2.x/3.x, or 1.8+); empty: nothing is written",
    ),
    Option(
        "--influx-token",
        "",
        "InfluxDB token (1.8: user:password). Never logged, never shown",
        secret=True,
    ),
    Option("--influx-org", "", "InfluxDB organisation"),
    Option("--influx-bucket", "s2s", "InfluxDB bucket (1.8: db/rp)"),
    Option(
        "--check-silent-failure-rate",
        None,
        "CI gate: exit 3 if a model's share of sessions with a silent failure is above this (0 = none allowed)",
        type=float,
    ),
    Option(
        "--check-min-capacity-minutes",
        None,
        "CI gate: exit 3 if a model's median capacity to silent failure is below this many minutes",
        type=float,
    ),
    Option("--check-ttfa-p95-ms", None, "CI gate: exit 3 if a model's TTFA p95 is above this", type=float),
    Option(
        "--max-lost-sessions",
        None,
        "Harness check: exit 1 if more sessions than this were lost with their worker (a gated run allows 0)",
        type=int,
    ),
    Option(
        "--shape",
        NO_SHAPE,
        "A load shape for soaks: ramp-and-hold, steps or spike, up to -u users (see --shape-*); none: Locust's -u/-r",
        choices=SHAPES,
    ),
    Option(
        "--shape-ramp",
        60,
        "ramp-and-hold: time to reach -u users; steps: time at each step; spike: time at the base before and after",
        type=timespan,
    ),
    Option(
        "--shape-hold",
        600,
        "ramp-and-hold and steps: time at -u users, then the run ends; spike: how long the spike lasts",
        type=timespan,
    ),
    Option("--shape-steps", 4, "steps: how many equal steps reach -u users", type=int),
    Option("--shape-base-users", 1, "spike: users before and after the spike", type=int),
)

OPTIONS_BY_DEST: dict[str, Option] = {option.dest: option for option in OPTIONS}
SECRET_OPTIONS: frozenset[str] = frozenset(option.dest for option in OPTIONS if option.secret)


def add_options(parser: Any) -> None:
    """Register the s2s options on Locust's argument parser."""
    # Straight on the parser: Locust's web UI flags (include_in_web_ui, is_secret) are not known to groups.
    for option in OPTIONS:
        kwargs: dict[str, Any] = {"default": option.default, "help": option.help}
        if option.type is flag:
            kwargs["action"] = "store_true"  # Locust's start form shows it as a checkbox
        elif option.type is not str:
            kwargs["type"] = option.type
        if option.choices is not None:
            kwargs["choices"] = list(option.choices)
        kwargs["env_var"] = option.env_var
        if option.secret:
            kwargs["is_secret"] = True
        if not option.web:
            kwargs["include_in_web_ui"] = False
        parser.add_argument(option.flag, **kwargs)
