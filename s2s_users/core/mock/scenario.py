"""Scenario files for the mock (TOML or JSON): models → profiles, faults, seed. Bad files fail with one line.

    seed = 7
    [models.gpt-realtime-2]
    audio = { dist = "lognormal", median = 9.65, p95 = 14.0, min = 3.0, max = 15.0 }
    ttfa_s = 0.6                 # time to first audio
    stream_speed = 4.0           # audio streams 4x faster than real time
    delta_ms = 100               # audio per response.output_audio.delta
    ceiling_s = 300              # assistant audio in context at which ...
    ceiling_fault = "zero_audio_abort"   # ... every later turn gets this fault
    faults = { failed = 0.02, stall = 0.01 }   # per-turn probabilities
    faults_at = { 3 = "near_silent" }          # turn (1-based) -> fault, for exact tests
    flavour = "ga"               # or "beta": legacy event names
    voice = "marin"
    session_cap_s = 3600         # error + close 1001 "maximum duration of 60 minutes" (Gemini: goAway, then ...)
    close_code = 1011            # the close code of the error_close fault
    reject = { 429 = 0.05 }      # handshake answers instead of 101, by probability (OpenAI and Azure paths)
    go_away_s = 60               # Gemini: the goAway's timeLeft before session_cap_s
    after_go_away = "close"      # Gemini: close | silence | early_close

Models not named in the file keep the built-in profiles; a file naming models replaces only those.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from s2s_users.core.exceptions import ConfigError
from s2s_users.core.mock.profiles import (
    AFTER_GO_AWAY,
    DEFAULT_PROFILES,
    REJECT_STATUSES,
    AudioDistribution,
    Fault,
    ModelProfile,
)

T = TypeVar("T")
SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
_PROFILE_KEYS = {
    "audio", "ttfa_s", "stream_speed", "delta_ms", "ceiling_s", "ceiling_fault", "faults", "faults_at", "flavour",
    "voice", "session_cap_s", "close_code", "reject", "leading_silence_ms", "vad_silence_ms", "leftover", "leftover_at",
    "barge_in", "barge_in_stop_ms", "go_away_s", "after_go_away",
}  # fmt: skip
_FAULTS = ", ".join(f.value for f in Fault)
#: Close codes of the error_close fault: OpenAI's, and Gemini's 1007 (invalid argument) and 1008 (policy).
CLOSE_CODES = (1000, 1001, 1007, 1008, 1011, 4000)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    seed: int
    profiles: dict[str, ModelProfile]
    models: tuple[str, ...]
    """The models the file names (``profiles`` also holds the built-in ones)."""


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file; a name without a folder is looked up in the bundled ``scenarios/`` too."""
    if not path.exists() and path.parent == Path("."):
        # A bundled scenario by name: "seed" or "seed.toml".
        for name in (path.name, f"{path.name}.toml"):
            if (SCENARIO_DIR / name).exists():
                path = SCENARIO_DIR / name
                break
    if not path.is_file():
        bundled = ", ".join(sorted(p.name for p in SCENARIO_DIR.glob("*.toml")))
        raise ConfigError(f"scenario file {path} not found: give a TOML or JSON file (bundled: {bundled})")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"scenario file {path} does not parse: {exc}") from exc
    return parse_scenario(data, str(path))


def parse_scenario(data: Mapping[str, Any], where: str = "scenario") -> Scenario:
    unknown = set(data) - {"seed", "models", "name"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}: use seed, name and [models.NAME] tables")
    models = data.get("models", {})
    if not isinstance(models, Mapping) or not models:
        raise ConfigError(f"{where}: no [models.NAME] table: name at least one model")
    profiles = dict(DEFAULT_PROFILES)
    for name, table in models.items():
        profiles[name] = _profile(str(name), table, f"{where}: models.{name}")
    seed = data.get("seed", 0)
    if not isinstance(seed, int):
        raise ConfigError(f"{where}: seed must be an integer")
    return Scenario(str(data.get("name", Path(where).stem)), seed, profiles, tuple(str(m) for m in models))


def _profile(name: str, table: Any, where: str) -> ModelProfile:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table of settings")
    unknown = set(table) - _PROFILE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown setting {sorted(unknown)[0]!r}: use {', '.join(sorted(_PROFILE_KEYS))}")
    base = DEFAULT_PROFILES.get(name, DEFAULT_PROFILES["gpt-realtime"])
    try:
        return ModelProfile(
            name=name,
            audio=_audio(table["audio"], f"{where}.audio") if "audio" in table else base.audio,
            ttfa_s=_positive(table.get("ttfa_s", base.ttfa_s), f"{where}.ttfa_s", zero_ok=True),
            stream_speed=_positive(table.get("stream_speed", base.stream_speed), f"{where}.stream_speed"),
            delta_ms=int(_positive(table.get("delta_ms", base.delta_ms), f"{where}.delta_ms")),
            ceiling_s=_optional(table.get("ceiling_s", base.ceiling_s)),
            ceiling_fault=_fault(table.get("ceiling_fault", base.ceiling_fault), f"{where}.ceiling_fault"),
            faults={
                _fault(k, f"{where}.faults"): _probability(v, f"{where}.faults.{k}")
                for k, v in dict(table.get("faults", {})).items()
            },
            faults_at={
                _turn(k, f"{where}.faults_at"): _fault(v, f"{where}.faults_at.{k}")
                for k, v in dict(table.get("faults_at", {})).items()
            },
            flavour=_choice(table.get("flavour", "ga"), ("ga", "beta"), f"{where}.flavour"),
            voice=str(table.get("voice", base.voice)),
            session_cap_s=_optional(table.get("session_cap_s", base.session_cap_s)),
            close_code=_choice(table.get("close_code", 1011), CLOSE_CODES, f"{where}.close_code"),
            reject={
                _choice(int(k), REJECT_STATUSES, f"{where}.reject"): _probability(v, f"{where}.reject.{k}")
                for k, v in dict(table.get("reject", {})).items()
            },
            leading_silence_ms=int(_positive(table.get("leading_silence_ms", 0), f"{where}.leading_silence_ms", True)),
            vad_silence_ms=int(_positive(table.get("vad_silence_ms", base.vad_silence_ms), f"{where}.vad_silence_ms")),
            leftover=_probability(table.get("leftover", 0.0), f"{where}.leftover"),
            leftover_at=tuple(_turn(t, f"{where}.leftover_at") for t in table.get("leftover_at", ())),
            barge_in=_choice(table.get("barge_in", "cancel"), ("cancel", "ignore"), f"{where}.barge_in"),
            barge_in_stop_ms=int(_positive(table.get("barge_in_stop_ms", 200), f"{where}.barge_in_stop_ms", True)),
            go_away_s=_positive(table.get("go_away_s", base.go_away_s), f"{where}.go_away_s"),
            after_go_away=_choice(table.get("after_go_away", "close"), AFTER_GO_AWAY, f"{where}.after_go_away"),
        )
    except ConfigError:
        raise  # already one line naming the setting
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _audio(value: Any, where: str) -> AudioDistribution:
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where} must be a table like {{ dist = "lognormal", median = 6, p95 = 8 }}')
    kind = _choice(value.get("dist", "lognormal"), ("constant", "uniform", "lognormal"), f"{where}.dist")
    low, high = float(value.get("low", 0.0)), float(value.get("high", 0.0))
    if kind == "uniform" and not 0 <= low <= high:
        raise ConfigError(f"{where}: a uniform distribution needs 0 <= low <= high")
    median = _positive(value.get("median", value.get("seconds", low or 1.0)), f"{where}.median")
    p95 = float(value.get("p95", median))
    if kind == "lognormal" and p95 < median:
        raise ConfigError(f"{where}: p95 ({p95}) is below the median ({median})")
    return AudioDistribution(
        kind, median=median, p95=p95, low=low, high=high,
        minimum=float(value.get("min", 0.0)), maximum=float(value.get("max", 3600.0)),
    )  # fmt: skip


def _positive(value: Any, where: str, zero_ok: bool = False) -> float:
    number = float(value)
    if number < 0 or (number == 0 and not zero_ok):
        raise ConfigError(f"{where} must be {'0 or more' if zero_ok else 'more than 0'} (got {value})")
    return number


def _optional(value: Any) -> float | None:
    return None if value is None or value == "none" else float(value)


def _probability(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be a probability between 0 and 1 (got {value!r})") from None
    if not 0 <= number <= 1:
        raise ConfigError(f"{where} must be a probability between 0 and 1 (got {value})")
    return number


def _fault(value: Any, where: str) -> Fault:
    try:
        return Fault(str(value))
    except ValueError:
        raise ConfigError(f"{where}: unknown fault {value!r}: use one of {_FAULTS}") from None


def _turn(value: Any, where: str) -> int:
    turn = int(value)
    if turn < 1:
        raise ConfigError(f"{where}: turns count from 1 (got {value})")
    return turn


def _choice(value: T, allowed: tuple[T, ...], where: str) -> T:
    if value not in allowed:
        raise ConfigError(f"{where} is {value!r}: use one of {', '.join(str(a) for a in allowed)}")
    return value
