"""The engine and the Gemini adapter against the mock's Gemini session, in memory (see ``in_memory.py``); with
``resume``, a goAway hands the conversation over to a new connection resumed with the adapter's handle."""

from __future__ import annotations

from s2s_users.core.engine.conversation import Conversation, EngineSettings
from s2s_users.core.engine.pacing import Pace
from s2s_users.core.engine.script import Carrier, Script, build_script
from s2s_users.core.metrics.records import SessionLabels
from s2s_users.core.mock.gemini_resumption import ResumptionRegistry
from s2s_users.core.mock.gemini_session import GeminiMockSession
from s2s_users.core.mock.profiles import ModelProfile
from s2s_users.core.protocols.base import RealtimeProtocol
from s2s_users.core.protocols.gemini_live import GeminiLiveProtocol, GeminiSettings
from s2s_users.core.protocols.gemini_wire import INPUT_RATE
from tests.support.in_memory import MockEnd, Played, run_in_memory

LABELS = SessionLabels("run-mem", "m", "gemini", "Puck", "manual", "in-memory", "local")
#: One second of a loud prompt at 16 kHz (the mock's VAD hears it), in 100 ms chunks.
PROMPT = (b"\x00\x40" + b"\x00\xc0") * (INPUT_RATE // 2)


def gemini_script(trailing_silence_ms: int = 0, carrier: Carrier = Carrier.OFF) -> Script:
    return build_script([("p1", PROMPT)], INPUT_RATE, 100, trailing_silence_ms, carrier)


def play_gemini(
    profile: ModelProfile,
    turns: int = 3,
    turn_mode: str = "manual",
    resume: bool = False,
    seed: int = 1,
    turn_timeout_s: float = 2.0,
    carrier: Carrier = Carrier.OFF,
    key_ok: bool = True,
) -> Played:
    """One conversation of ``turns`` turns against ``profile`` played as Gemini Live, on a fake clock."""
    registry = ResumptionRegistry()
    profiles = {profile.name: profile}
    settings = GeminiSettings(model=profile.name, turn_mode=turn_mode, resume=resume)
    adapter = GeminiLiveProtocol(settings)
    engine = EngineSettings(
        turns=turns,
        turn_mode=turn_mode,
        pace=Pace(1.0),
        think_time_s=0.5,
        turn_timeout_s=turn_timeout_s,
        output_rate=adapter.output_rate,
    )
    vad_silence_ms = 800 if turn_mode == "server_vad" and carrier is Carrier.OFF else 0
    the_script = gemini_script(vad_silence_ms, carrier)
    conversation = Conversation(the_script, engine, LABELS, now=0.0, wall_offset=1_000.0, counts=adapter.counts)

    def reconnect(old: RealtimeProtocol, now: float) -> tuple[RealtimeProtocol, MockEnd]:
        assert isinstance(old, GeminiLiveProtocol)
        new = GeminiLiveProtocol(settings, counts=old.counts, resumption_handle=old.resumption_handle)
        return new, GeminiMockSession(profiles, registry, time_scale=1.0, seed=seed, now=now)

    mock = GeminiMockSession(profiles, registry, time_scale=1.0, seed=seed, now=0.0, key_ok=key_ok)
    return run_in_memory(conversation, adapter, mock, reconnect=reconnect)
