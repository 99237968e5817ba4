"""Run settings: validated once from the command-line options, frozen afterwards.

Every check here fails with a one-line ``ConfigError`` saying what is wrong and how to fix it.
"""

from __future__ import annotations

import enum
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from s2s_users.core.engine.pacing import Pace, parse_pace
from s2s_users.core.engine.rotation import RotationPolicy
from s2s_users.core.engine.script import Carrier
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.exceptions import ConfigError
from s2s_users.core.metrics.cost import DEFAULT_PRICES, DEFAULT_TABLE, PriceTable, load_prices
from s2s_users.core.model_mix import parse_models
from s2s_users.core.protocols import providers
from s2s_users.core.protocols.gemini_live import GeminiSettings
from s2s_users.core.protocols.openai_realtime import RealtimeSettings, check_url
from s2s_users.core.redact import redact_url

TURN_MODES = ("manual", "server_vad")
CONTROL, ROTATED = "control", "rotated"
ARMS = (CONTROL, ROTATED)
ALL_MODELS = "*"

UNTIL_FAILURE = "until-failure"


class RecordAudio(enum.StrEnum):
    """Which turns' audio a session writes as WAV evidence (``--record-audio``)."""

    FAILURES = "failures"
    ALL = "all"
    NONE = "none"


#: Where an Azure Entra ID token comes from when --azure-ad-token (S2S_AZURE_AD_TOKEN) gives none.
AZURE_TOKEN_VARIABLE = "AZURE_OPENAI_AD_TOKEN"
#: Where each protocol's key comes from when neither --s2s-api-key nor S2S_API_KEY gives one.
KEY_VARIABLES = {
    "openai": ("OPENAI_API_KEY",),
    "azure": ("AZURE_OPENAI_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}


@dataclass(frozen=True, slots=True)
class Mitigation:
    """Session rotation and reconnects (the seed's mitigation, and the provider's cap)."""

    rotate_after_s: float | None = None
    """Rotate after this much assistant audio in a provider session (``--rotate-after``/``--ab-rotate-after``)."""
    rotate_after_turns: int | None = None
    ab: bool = False
    """Half the users rotate (the rotated arm), half do not (control): ``--ab-rotate-after``."""
    summary_chars: int = 2000
    reconnect_on_cap: bool = False


@dataclass(frozen=True, slots=True)
class Budget:
    """What a run may cost and when a session is warned: prices, ``--max-cost``, the expected capacity."""

    prices: PriceTable = DEFAULT_TABLE
    max_cost_usd: float | None = None
    expected_capacity_s: dict[str, float] = field(default_factory=dict)
    """Per model (``*``: every model): assistant audio a session is expected to hold before its silent failure."""
    warn_share: float = 0.8
    """The early warning fires at this share of the capacity (``--warn-at``)."""


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a short random tail."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Everything a session needs to know about the run. ``api_key`` never appears in repr or records."""

    url: str | None
    models: tuple[str, ...]
    api_key: str = field(repr=False)
    voice: str
    instructions: str
    turn_modes: tuple[str, ...]
    """Users are spread over these turn modes (and over the models) evenly."""
    turns: int
    sessions_per_user: int
    pace: Pace
    chunk_ms: int
    think_time_s: float
    turn_timeout_s: float
    prompts_dir: Path | None
    report_dir: Path
    mock_time_scale: float
    mock_scenario: Path | None
    silence_floor_dbfs: float
    vad_silence_ms: int
    run_id: str
    scenario: str
    carrier: Carrier = Carrier.SILENCE
    barge_in_after_s: float | None = None
    barge_in_share: float = 1.0
    model_weights: tuple[int, ...] = ()
    """One weight per model (``--s2s-model a:3,b:1``); empty: all equal."""
    protocol: str = "openai"
    """openai | azure | gemini: what the target speaks (``--s2s-protocol``, or detected from the URL)."""
    azure_ad_token: str = field(default="", repr=False)
    """A Microsoft Entra ID token for Azure (sent as Bearer instead of the key); a secret like the key."""
    gemini_resume: bool = False
    mitigation: Mitigation = field(default_factory=lambda: Mitigation())
    budget: Budget = field(default_factory=lambda: Budget())
    until_failure: bool = False
    """``--turns until-failure``: ``turns`` is then the safety bound on turns (0: none)."""
    max_session_minutes: float = 65.0
    record_audio: RecordAudio = RecordAudio.FAILURES
    record_audio_max_mb: float = 200.0

    @property
    def embedded_mock(self) -> bool:
        return self.url is None

    @property
    def turn_mode(self) -> str:
        """The run's turn mode(s) as one label: ``manual``, ``server_vad`` or ``manual,server_vad``."""
        return ",".join(self.turn_modes)

    @property
    def arms(self) -> tuple[str, ...]:
        """The A/B arms users are spread over (``--ab-rotate-after``); one unnamed arm without an A/B test."""
        return ARMS if self.mitigation.ab else ("",)

    def engine_settings(
        self, output_rate: int, turn_mode: str, model: str = "", arm: str = "", capacity_s: float | None = None
    ) -> EngineSettings:
        """A session's engine settings: ``arm`` decides whether it rotates; ``capacity_s`` (expected, or learned in
        this run) sets where the early warning fires."""
        mitigation = self.mitigation
        rotates = arm != CONTROL
        expected = self.budget.expected_capacity_s.get(model, self.budget.expected_capacity_s.get(ALL_MODELS))
        capacity = expected if expected is not None else capacity_s
        return EngineSettings(
            rotation=RotationPolicy(mitigation.rotate_after_s, mitigation.rotate_after_turns)
            if rotates
            else RotationPolicy(),
            summary_chars=mitigation.summary_chars,
            reconnect_on_cap=mitigation.reconnect_on_cap,
            warn_at_audio_s=None if capacity is None else capacity * self.budget.warn_share,
            prices=self.budget.prices.lookup(model) if model else DEFAULT_PRICES["gpt-realtime"],
            output_rate=output_rate,
            session_cap_s=providers.SESSION_CAPS_S.get(self.protocol),
            turns=self.turns,
            until_failure=self.until_failure,
            max_session_s=self.max_session_minutes * 60 if self.until_failure else None,
            turn_mode=turn_mode,
            pace=self.pace,
            think_time_s=self.think_time_s,
            turn_timeout_s=self.turn_timeout_s,
            silence_floor_dbfs=self.silence_floor_dbfs,
            barge_in_after_s=self.barge_in_after_s,
            barge_in_share=self.barge_in_share,
        )

    def realtime_settings(self, turn_mode: str) -> RealtimeSettings:
        return RealtimeSettings(voice=self.voice, instructions=self.instructions, turn_mode=turn_mode)

    def gemini_settings(self, model: str, turn_mode: str) -> GeminiSettings:
        return GeminiSettings(
            model=model,
            voice=self.voice,
            instructions=self.instructions,
            turn_mode=turn_mode,
            resume=self.gemini_resume,
        )


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    if value < 0 or (value == 0 and not allow_zero):
        floor = "0 or more" if allow_zero else "more than 0"
        raise ConfigError(f"{name} {value:g} is out of range: use {floor}")
    return value


def resolve_api_key(
    explicit: str | None, url: str | None, mock_key: str, protocol: str | None = None, optional: bool = False
) -> str:
    """The key for the target: the embedded mock's own key; else the option if given, or the provider's env var.

    ``optional``: another credential will do (an Entra token for Azure, a ``?key=`` in a Gemini URL), so no key
    is not an error.
    """
    if url is None:
        return mock_key  # the embedded mock has its own key: a real one (S2S_API_KEY...) has no business there
    if explicit:
        return explicit
    names = KEY_VARIABLES[protocol or providers.detect(url)]
    key = next((os.environ[name] for name in names if os.environ.get(name)), "")
    if not key and not optional:
        where = " or ".join(names)
        raise ConfigError(f"no API key for {redact_url(url)}: set {where} (or S2S_API_KEY / --s2s-api-key)")
    return key


def settings_from_options(options: Any, mock_key: str, report_root: Path = Path("runs")) -> RunSettings:
    """Validate Locust's parsed options (an argparse namespace) into ``RunSettings``."""
    url = (options.s2s_url or "").strip() or None
    if url is not None:
        check_url(url)
    protocol = providers.resolve(getattr(options, "s2s_protocol", "auto"), url)
    if protocol not in KEY_VARIABLES:
        raise ConfigError(f"--s2s-protocol {protocol!r} is not valid: use {', '.join(providers.PROTOCOLS)}")
    ad_token = (getattr(options, "azure_ad_token", "") or os.environ.get(AZURE_TOKEN_VARIABLE, "")).strip()
    ad_token = ad_token if protocol == "azure" else ""
    key_in_url = protocol == "gemini" and url is not None and "key" in parse_qs(urlsplit(url).query)
    weighted = parse_models(str(options.s2s_model))
    models = tuple(name for name, _ in weighted)
    turn_modes = tuple(dict.fromkeys(m.strip() for m in str(options.turn_mode).split(",") if m.strip()))
    bad_modes = [m for m in turn_modes if m not in TURN_MODES] or ([] if turn_modes else [options.turn_mode])
    if bad_modes:
        raise ConfigError(
            f"--turn-mode {bad_modes[0]!r} is not valid: use manual, server_vad, or both (manual,server_vad)"
        )
    carrier = str(getattr(options, "carrier", "silence"))
    if carrier not in {c.value for c in Carrier}:
        raise ConfigError(f"--carrier {carrier!r} is not valid: use silence, noise or off")
    barge_in_after = getattr(options, "barge_in_after", None)
    if barge_in_after is not None:
        _positive("--barge-in-after", barge_in_after)
    barge_in_share = float(getattr(options, "barge_in_share", 1.0))
    if not 0 < barge_in_share <= 1:
        raise ConfigError(f"--barge-in-share {barge_in_share:g} is out of range: use more than 0, up to 1")
    until_failure = str(options.turns) == UNTIL_FAILURE
    try:
        turns = int(getattr(options, "max_session_turns", 0) or 0) if until_failure else int(options.turns)
    except ValueError:
        raise ConfigError(f"--turns {options.turns!r} is not valid: use a number of turns or until-failure") from None
    if turns < 1 and not until_failure:
        raise ConfigError(f"--turns {options.turns} is out of range: play at least 1 turn")
    if turns < 0:
        raise ConfigError(f"--max-session-turns {turns} is out of range: use 0 (no bound) or more")
    max_minutes = _positive("--max-session-minutes", float(getattr(options, "max_session_minutes", 65.0)))
    record_audio = str(getattr(options, "record_audio", "failures"))
    if record_audio not in {r.value for r in RecordAudio}:
        raise ConfigError(f"--record-audio {record_audio!r} is not valid: use failures, all or none")
    audio_mb = _positive("--record-audio-max-mb", float(getattr(options, "record_audio_max_mb", 200.0)), True)
    if options.sessions_per_user < 0:
        raise ConfigError("--sessions-per-user must be 0 (until the run ends) or more")
    mitigation = _mitigation(options)
    budget = _budget(options, models, embedded_mock=url is None)
    run_id = options.run_id or new_run_id()
    report_dir = Path(options.report_dir) if options.report_dir else report_root / run_id
    prompts_dir = Path(options.prompts) if options.prompts else None
    return RunSettings(
        url=url,
        models=models,
        api_key=resolve_api_key(options.s2s_api_key, url, mock_key, protocol, optional=bool(ad_token) or key_in_url),
        voice=options.s2s_voice or providers.DEFAULT_VOICES[protocol],
        instructions=options.s2s_instructions,
        turn_modes=turn_modes,
        turns=turns,
        sessions_per_user=options.sessions_per_user,
        pace=parse_pace(options.s2s_pace),
        chunk_ms=options.chunk_ms,
        think_time_s=_positive("--think-time", options.think_time, allow_zero=True),
        turn_timeout_s=_positive("--turn-timeout", options.turn_timeout),
        prompts_dir=prompts_dir,
        report_dir=report_dir,
        mock_time_scale=_positive("--mock-time-scale", options.mock_time_scale),
        mock_scenario=Path(options.mock_scenario) if getattr(options, "mock_scenario", "") else None,
        silence_floor_dbfs=options.silence_floor_dbfs,
        vad_silence_ms=int(_positive("--vad-silence-ms", options.vad_silence_ms, allow_zero=True)),
        run_id=run_id,
        scenario=options.scenario,
        carrier=Carrier(carrier),
        barge_in_after_s=barge_in_after,
        barge_in_share=barge_in_share,
        model_weights=tuple(weight for _, weight in weighted),
        protocol=protocol,
        azure_ad_token=ad_token,
        gemini_resume=bool(getattr(options, "gemini_resume", False)),
        mitigation=mitigation,
        budget=budget,
        until_failure=until_failure,
        max_session_minutes=max_minutes,
        record_audio=RecordAudio(record_audio),
        record_audio_max_mb=audio_mb,
    )


def _mitigation(options: Any) -> Mitigation:
    rotate_after = getattr(options, "rotate_after", None)
    ab_rotate_after = getattr(options, "ab_rotate_after", None)
    if rotate_after is not None and ab_rotate_after is not None:
        raise ConfigError("--rotate-after and --ab-rotate-after both given: rotate every user, or half of them (A/B)")
    after_s = ab_rotate_after if ab_rotate_after is not None else rotate_after
    if after_s is not None:
        _positive("--ab-rotate-after" if ab_rotate_after is not None else "--rotate-after", after_s)
    after_turns = int(getattr(options, "rotate_after_turns", 0) or 0)
    if after_turns < 0:
        raise ConfigError(f"--rotate-after-turns {after_turns} is out of range: 0 (never) or more")
    summary_chars = int(getattr(options, "summary_chars", 2000))
    if summary_chars < 0:
        raise ConfigError(f"--summary-chars {summary_chars} is out of range: 0 (no summary) or more")
    return Mitigation(
        rotate_after_s=after_s,
        rotate_after_turns=after_turns or None,
        ab=ab_rotate_after is not None,
        summary_chars=summary_chars,
        reconnect_on_cap=bool(getattr(options, "reconnect_on_cap", False)),
    )


def _budget(options: Any, models: tuple[str, ...], embedded_mock: bool) -> Budget:
    prices_file = getattr(options, "prices", "") or ""
    prices = load_prices(Path(prices_file)) if prices_file else DEFAULT_TABLE
    if embedded_mock:
        # The mock's models (a scenario may name its own) imitate gpt-realtime, and their cost is never billed.
        prices = prices.with_fallback(DEFAULT_PRICES["gpt-realtime"], "gpt-realtime (the embedded mock)")
    max_cost = getattr(options, "max_cost", None)
    if max_cost is not None:
        _positive("--max-cost", max_cost)
        prices.check(models)  # a budget is only as good as its prices: every model must have one
    warn_share = float(getattr(options, "warn_at", 0.8))
    if not 0 < warn_share <= 1:
        raise ConfigError(f"--warn-at {warn_share:g} is out of range: a share of the capacity, more than 0, up to 1")
    expected = parse_expected_capacity(str(getattr(options, "expected_capacity", "") or ""), models)
    return Budget(prices=prices, max_cost_usd=max_cost, expected_capacity_s=expected, warn_share=warn_share)


def parse_expected_capacity(text: str, models: tuple[str, ...]) -> dict[str, float]:
    """``--expected-capacity``: ``5m`` for every model, or ``gpt-realtime-2=5m,gpt-realtime=12m`` (assistant audio,
    as Locust's time spans: 300, 300s, 5m, 1h)."""
    expected: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        model, sep, span = item.rpartition("=")
        model = model.strip() if sep else ALL_MODELS
        if sep and model not in models:
            raise ConfigError(
                f"--expected-capacity {item!r}: {model!r} is not one of the run's models ({', '.join(models)})"
            )
        seconds = parse_timespan_s(span.strip())
        if seconds is None or seconds <= 0:
            raise ConfigError(f"--expected-capacity {item!r}: give assistant audio as 300, 300s or 5m")
        expected[model] = seconds
    return expected


def parse_timespan_s(text: str) -> float | None:
    """Seconds from ``90``, ``90s``, ``5m``, ``1h30m`` (None when it is not one)."""
    match = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
    if not text or match is None:
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds
