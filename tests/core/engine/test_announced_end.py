"""Ends the provider announced (Gemini's goAway, Azure's cap), resumption on a new connection, and the silence
streamed between server-VAD turns: the engine on a fake clock, driven by the real Gemini adapter."""

from __future__ import annotations

import base64
import json
from typing import Any

from s2s_users.core.engine.conversation import Conversation, EngineSettings
from s2s_users.core.engine.pacing import Pace
from s2s_users.core.engine.script import Carrier, build_script
from s2s_users.core.engine.table import State
from s2s_users.core.metrics.records import SessionLabels
from s2s_users.core.protocols.gemini_live import GeminiLiveProtocol, GeminiSettings

LABELS = SessionLabels("run1", "gemini-test", "gemini", "Puck", "manual", "default", "local")
LOUD = base64.b64encode((b"\x00\x40" + b"\x00\xc0") * 1200).decode()  # 100 ms at 24 kHz, -6 dBFS
PROMPT = bytes(3200)  # 100 ms at 16 kHz: five 20 ms chunks


class GeminiHarness:
    """A Conversation, its Gemini adapter, a fake clock, and a scripted server on the other side."""

    def __init__(
        self,
        turns: int = 3,
        turn_mode: str = "manual",
        resume: bool = False,
        carrier: Carrier = Carrier.OFF,
        **engine: Any,
    ) -> None:
        self.now = 0.0
        self.settings = GeminiSettings(model="gemini-test", turn_mode=turn_mode, resume=resume)
        self.adapter = GeminiLiveProtocol(self.settings)
        silence_ms = 200 if turn_mode == "server_vad" and carrier is Carrier.OFF else 0
        script = build_script([("p1", PROMPT)], 16_000, 20, trailing_silence_ms=silence_ms, carrier=carrier)
        engine = {"think_time_s": 0.5, "turn_timeout_s": 2.0, **engine}
        settings = EngineSettings(turns=turns, turn_mode=turn_mode, pace=Pace(1.0), **engine)
        self.conv = Conversation(script, settings, LABELS, now=0.0, wall_offset=1_000.0, counts=self.adapter.counts)
        self.sent: list[dict[str, Any]] = []
        self._collect()

    def server(self, *frames: dict[str, Any]) -> None:
        for frame in frames:
            self.adapter.receive_message(json.dumps(frame))
            for event in self.adapter.events_received():
                self.conv.handle(event, self.now)
            self.conv.on_timer(self.now)
        self._collect()

    def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while (deadline := self.conv.next_deadline()) is not None and deadline <= target:
            if self.conv.awaiting_connection:
                break
            self.now = max(self.now, deadline)
            self.conv.on_timer(self.now)
            self._collect()
        self.now = target

    def _collect(self) -> None:
        for intent in self.conv.take_intents():
            self.adapter.apply(intent)
        self.sent.extend(json.loads(m) for m in self.adapter.messages_to_send())

    def open_session(self, handle: str | None = None) -> None:
        self.server({"setupComplete": {"sessionId": "gs_1"}})
        if handle:
            self.server({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})

    def answer(self, deltas: int = 5) -> None:
        for _ in range(deltas):
            self.server({"serverContent": {"modelTurn": {"parts": [{"inlineData": {
                "mimeType": "audio/pcm;rate=24000", "data": LOUD}}]}}})  # fmt: skip
            self.now += 0.01
        self.server({"serverContent": {"generationComplete": True}}, {"serverContent": {"turnComplete": True}})

    def play_turn(self) -> None:
        self.advance(0.2)  # the prompt goes out, activityEnd after it
        self.answer()

    def close(self, code: int | None, reason: str = "") -> None:
        self.conv.on_connection_ended(code, reason, code is not None, self.now)


def test_a_close_when_the_go_away_said_is_the_expected_end_whatever_its_code() -> None:
    for code in (1011, 1000, None):  # Gemini's cap closes come as 1011 "Deadline expired", 1000 or 1006
        h = GeminiHarness(turn_timeout_s=10.0)  # the close cuts turn 3 while it waits for its answer
        h.open_session()
        h.play_turn()
        h.server({"goAway": {"timeLeft": "5s"}})
        h.advance(0.5)
        h.play_turn()
        h.advance(4.5)
        h.close(code, "Deadline expired before operation could complete.")
        record = h.conv.session_record()
        assert record.end_class == "session.expired" and record.outcome == "expired", code
        assert record.failure_class is None and record.censored and record.turns_completed == 2
        assert record.turns[-1].outcome == "session.expired"


def test_a_close_well_before_the_go_away_said_is_a_failure_that_says_how_early() -> None:
    h = GeminiHarness()
    h.open_session()
    h.play_turn()
    h.server({"goAway": {"timeLeft": "50s"}})
    h.advance(1.0)
    h.close(1011, "Internal error encountered.")
    record = h.conv.session_record()
    assert record.end_class == record.failure_class == "transport.closed_frame"
    assert record.failure_detail is not None and "s before its goAway said" in record.failure_detail


def test_silence_after_go_away_is_the_silent_timeout_it_is() -> None:
    h = GeminiHarness()
    h.open_session()
    h.play_turn()
    h.server({"goAway": {"timeLeft": "1s"}})
    h.advance(0.5 + 0.2 + 2.1)  # think, the next prompt, then no answer and no close past the turn timeout
    record = h.conv.session_record()
    assert record.failure_class == "timeout.first_audio" and record.silent_failure_turn == 2
    assert record.failure_detail == "no first audio within 2 s (the server had sent goAway)"


def test_with_a_resumption_handle_the_conversation_goes_on_over_a_new_connection() -> None:
    h = GeminiHarness(turns=3, resume=True)
    h.open_session(handle="h1")
    h.play_turn()
    h.server({"goAway": {"timeLeft": "30s"}})
    h.advance(0.5)
    # Between turns, instead of the next turn: the engine lets the connection go.
    assert h.conv.state is State.CONNECTING and h.conv.awaiting_connection
    handle = h.adapter.resumption_handle
    h.conv.on_closed_by_us(1000, "", True)
    h.adapter = GeminiLiveProtocol(h.settings, counts=h.adapter.counts, resumption_handle=handle)
    h.conv.on_reconnecting(h.now)
    h._collect()
    assert h.sent[-1]["setup"]["sessionResumption"] == {"handle": "h1"}
    h.server({"setupComplete": {"sessionId": "gs_2"}})
    h.play_turn()
    h.advance(0.5)
    h.play_turn()
    record = h.conv.session_record()
    assert record.outcome == "completed" and record.turns_completed == 3 and record.reconnects == 1
    assert record.session_id == "gs_1" and [t.turn for t in record.turns] == [1, 2, 3]


def test_a_new_connection_must_open_in_time() -> None:
    h = GeminiHarness(resume=True)
    h.open_session(handle="h1")
    h.play_turn()
    h.server({"goAway": {"timeLeft": "0.2s"}})
    h.close(1011, "Deadline expired before operation could complete.")  # while thinking: hand over at once
    assert h.conv.awaiting_connection
    h.conv.on_reconnecting(h.now)
    h.advance(2.5)  # no setupComplete on the new connection
    record = h.conv.session_record()
    assert record.reconnects == 1 and record.end_class == "timeout.first_audio"


def test_the_azure_cap_makes_a_late_error_or_close_the_expected_end_and_an_early_one_a_failure() -> None:
    late = GeminiHarness(session_cap_s=3.0)
    late.open_session()
    late.play_turn()
    late.advance(0.5 + 0.2)
    late.now = 2.9  # within the slack of the cap
    late.close(1001, "going away")
    assert late.conv.session_record().end_class == "session.expired"

    early = GeminiHarness(session_cap_s=300.0)
    early.open_session()
    early.play_turn()
    early.close(1001, "going away")
    record = early.conv.session_record()
    assert record.end_class == "transport.closed_frame" and record.failure_detail == "close 1001 going away"


def test_server_vad_turns_stream_silence_until_the_next_prompt() -> None:
    h = GeminiHarness(turns=2, turn_mode="server_vad", carrier=Carrier.SILENCE)
    h.open_session()
    h.advance(0.31)  # 5 prompt chunks, then the carrier's silence (between chunks: no float ties)
    before = len(h.sent)
    h.advance(1.0)  # no answer yet: 50 chunks of silence in one second at 20 ms
    assert len(h.sent) - before == 50
    assert all(m["realtimeInput"]["audio"]["data"] == base64.b64encode(bytes(640)).decode() for m in h.sent[before:])
    h.answer()
    h.advance(0.4)  # thinking: silence still flows
    assert len(h.sent) - before > 65
    quiet = GeminiHarness(turns=2, turn_mode="server_vad")
    quiet.open_session()
    quiet.advance(0.3)
    sent = len(quiet.sent)
    quiet.advance(1.0)
    assert len(quiet.sent) == sent  # without a carrier nothing is sent while waiting
