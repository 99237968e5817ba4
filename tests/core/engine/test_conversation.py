"""The turn engine on a fake clock, driven by the real OpenAI adapter and scripted server messages."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from s2s_users.core import events as ev
from s2s_users.core.engine.conversation import Conversation, IllegalTransition
from s2s_users.core.engine.pacing import Pace
from s2s_users.core.engine.script import build_script
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.engine.table import TRANSITIONS, State, Trigger
from s2s_users.core.intents import AppendAudio, Commit, Configure, CreateResponse
from s2s_users.core.metrics.lag import PacingWindow
from s2s_users.core.metrics.records import SessionLabels
from s2s_users.core.protocols.openai_realtime import OpenAIRealtimeProtocol, RealtimeSettings

LABELS = SessionLabels("run1", "gpt-test", "openai", "marin", "manual", "default", "local")
LOUD = (b"\x00\x40" + b"\x00\xc0") * 1200  # 100 ms of ±16384 PCM16 at 24 kHz (-6 dBFS)


class Harness:
    """A Conversation, its adapter, a fake clock, and a scripted server on the other side."""

    def __init__(
        self,
        turns: int = 2,
        turn_mode: str = "manual",
        pace: Pace | None = None,
        pacing: PacingWindow | None = None,
        **engine: Any,
    ) -> None:
        self.now = 0.0
        self.adapter = OpenAIRealtimeProtocol(RealtimeSettings(turn_mode=turn_mode))
        # One 100 ms prompt: five 20 ms chunks.
        silence_ms = 200 if turn_mode == "server_vad" else 0
        script = build_script([("p1", bytes(4800))], 24_000, 20, trailing_silence_ms=silence_ms)
        settings = EngineSettings(turns=turns, turn_mode=turn_mode, pace=pace or Pace(1.0), **engine)
        self.conv = Conversation(
            script, settings, LABELS, now=0.0, wall_offset=1_000.0, counts=self.adapter.counts, pacing=pacing
        )
        self.sent: list[dict[str, Any]] = []

    def server(self, *messages: dict[str, Any]) -> None:
        for message in messages:
            self.adapter.receive_message(json.dumps(message))
            for event in self.adapter.events_received():
                self.conv.handle(event, self.now)
            self.conv.on_timer(self.now)
        self._collect()

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every deadline on the way, as session.py's loop does."""
        target = self.now + seconds
        while (deadline := self.conv.next_deadline()) is not None and deadline <= target:
            self.now = max(self.now, deadline)
            self.conv.on_timer(self.now)
            self._collect()
        self.now = target

    def _collect(self) -> None:
        for intent in self.conv.take_intents():  # as session.py's loop hands them to the adapter
            self.adapter.apply(intent)
        self.sent.extend(json.loads(m) for m in self.adapter.messages_to_send())

    def sent_types(self) -> list[str]:
        return [m["type"] for m in self.sent]

    def open_session(self) -> None:
        self.server({"type": "session.created", "session": {"id": "sess_1"}})
        self.server({"type": "session.updated", "session": {}})

    def answer(self, audio: bytes = LOUD * 10, status: str = "completed", response_id: str = "resp_1") -> None:
        """A response: created, audio in 100 ms deltas (10 ms apart), done."""
        self.server({"type": "response.created", "response": {"id": response_id}})
        for i in range(0, len(audio), 4800):
            self.server(
                {
                    "type": "response.output_audio.delta",
                    "delta": base64.b64encode(audio[i : i + 4800]).decode(),
                }
            )
            self.now += 0.01
        usage = {"input_tokens": 10, "output_tokens": 20, "output_token_details": {"audio_tokens": 20}}
        self.server({"type": "response.done", "response": {"id": response_id, "status": status, "usage": usage}})


def test_a_full_manual_conversation_plays_every_turn_and_ends_done() -> None:
    h = Harness(turns=2, think_time_s=0.5)
    h.open_session()
    assert h.sent_types()[0] == "session.update"
    h.advance(0.1)  # the whole 100 ms prompt goes out at its deadlines, then commit + response.create
    assert h.sent_types()[1:] == ["input_audio_buffer.append"] * 5 + [
        "input_audio_buffer.commit",
        "response.create",
    ]
    h.advance(0.3)
    h.answer()
    assert h.conv.state is State.THINKING
    h.advance(0.6)
    h.answer(response_id="resp_2")
    assert h.conv.state is State.DONE
    record = h.conv.session_record()
    assert record.session_id == "sess_1"
    assert record.outcome == "completed" and record.failure_class is None
    assert record.turns_completed == 2 and record.turns_planned == 2
    assert record.assistant_audio_s == pytest.approx(2.0)
    assert record.capacity_to_failure_s == pytest.approx(2.0) and record.censored
    assert record.silent_censored
    first = record.turns[0]
    assert first.outcome == "ok"
    assert first.ttfa_ms == pytest.approx(320.0)  # commit at 0.08 s (last chunk due), first audio at 0.40 s
    assert first.output_tokens == 20
    assert first.started_at == pytest.approx(1_000.0)
    assert first.peak_dbfs == pytest.approx(-6.02, abs=0.01)


def test_the_seed_failure_zero_audio_then_a_drop_without_close_frame() -> None:
    h = Harness(turns=5, think_time_s=0.1)
    h.open_session()
    h.advance(0.2)
    h.answer()
    h.advance(0.2)
    h.answer(audio=b"", response_id="resp_2")  # completed, zero audio bytes: looks successful
    assert h.conv.state is State.THINKING  # the app would move on, and so do we
    h.advance(0.15)  # turn 3 starts streaming...
    h.conv.on_connection_ended(None, "", False, h.now)  # ...and the socket drops with no close frame
    record = h.conv.session_record()
    assert record.outcome == "failed"
    assert record.failure_class == "response.zero_audio" and record.failure_turn == 2
    assert record.silent_failure_turn == 2 and record.visible_failure_turn is None
    assert record.end_class == "transport.closed_no_frame"
    assert [t.outcome for t in record.turns] == ["ok", "response.zero_audio", "transport.closed_no_frame"]
    assert record.turns_completed == 1
    assert record.capacity_to_failure_s == pytest.approx(1.0) and not record.censored
    assert record.capacity_to_silent_failure_s == pytest.approx(1.0) and not record.silent_censored
    assert record.close_frame_received is False and record.close_code is None


def test_a_rejected_session_update_is_a_visible_configuration_failure() -> None:
    h = Harness()
    h.server({"type": "session.created", "session": {"id": "sess_9"}})
    error = {
        "type": "invalid_request_error",
        "code": "missing_required_parameter",
        "message": "Missing 'session.type'",
    }
    h.server({"type": "error", "error": {**error, "event_id": h.adapter.config_event_id}})
    record = h.conv.session_record()
    assert h.conv.state is State.ENDED
    assert record.failure_class == "server.error_event" and record.failure_turn == 0
    assert record.failure_detail is not None and record.failure_detail.startswith("session.update rejected")
    assert record.visible_failure_turn == 0 and record.turns == ()


def test_no_audio_within_the_turn_timeout_is_timeout_first_audio() -> None:
    h = Harness(turn_timeout_s=5.0)
    h.open_session()
    h.advance(0.1)
    h.server({"type": "response.created", "response": {"id": "r"}})
    h.advance(5.1)
    record = h.conv.session_record()
    assert record.failure_class == "timeout.first_audio" and record.end_class == "timeout.first_audio"
    assert record.turns[0].detail == "no first audio within 5 s"


def test_audio_then_silence_past_the_timeout_is_a_stall() -> None:
    h = Harness(turn_timeout_s=5.0)
    h.open_session()
    h.advance(0.1)
    h.server({"type": "response.created", "response": {"id": "r"}})
    h.server({"type": "response.output_audio.delta", "delta": base64.b64encode(LOUD).decode()})
    h.advance(4.0)
    assert h.conv.state is State.RECEIVING
    h.advance(1.5)
    assert h.conv.session_record().failure_class == "timeout.stall"


def test_an_error_instead_of_a_response_fails_the_turn_and_the_session_goes_on() -> None:
    h = Harness(turns=2, think_time_s=0.1)
    h.open_session()
    h.advance(0.1)
    h.server(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "conversation_already_has_active_response",
                "message": "x",
            },
        }
    )
    assert h.conv.state is State.THINKING
    h.advance(0.3)
    h.answer()
    record = h.conv.session_record()
    assert [t.outcome for t in record.turns] == ["server.error_event", "ok"]
    assert record.visible_failure_turn == 1 and record.silent_failure_turn is None
    assert record.outcome == "failed"


def test_failed_and_text_only_responses_are_classified_with_details() -> None:
    h = Harness(turns=2, think_time_s=0.1)
    h.open_session()
    h.advance(0.1)
    h.server(
        {"type": "response.created", "response": {"id": "r1"}},
        {
            "type": "response.done",
            "response": {
                "id": "r1",
                "status": "failed",
                "status_details": {"error": {"type": "server_error", "code": "boom", "message": "bad"}},
            },
        },
    )
    h.advance(0.2)
    h.server(
        {"type": "response.created", "response": {"id": "r2"}},
        {"type": "response.output_text.delta", "delta": "just text"},
        {"type": "response.done", "response": {"id": "r2", "status": "completed"}},
    )
    turns = h.conv.session_record().turns
    assert (turns[0].outcome, turns[0].detail) == ("response.failed", "server_error: boom: bad")
    assert turns[1].outcome == "response.zero_audio"
    assert turns[1].detail == "text-only response (9 chars of text, no audio)"


def test_near_silent_audio_is_a_silent_failure() -> None:
    h = Harness(turns=1)
    h.open_session()
    h.advance(0.1)
    h.answer(audio=b"\x01\x00" * 24000)
    record = h.conv.session_record()
    assert record.turns[0].outcome == "response.near_silent"
    assert record.silent_failure_turn == 1


def test_a_harness_stop_censors_the_session_without_failing_it() -> None:
    h = Harness(turns=3)
    h.open_session()
    h.advance(0.1)
    h.answer()
    h.advance(0.05)
    h.conv.on_stopped(h.now)
    record = h.conv.session_record()
    assert record.outcome == "stopped" and record.failure_class is None
    assert record.end_class == "harness.stopped"
    assert record.censored and record.silent_censored


def test_every_chunk_lag_goes_to_the_process_histogram_but_not_from_turns_the_harness_cut() -> None:
    window = PacingWindow()
    pacing = window.lags
    h = Harness(turns=3, think_time_s=0.1, pacing=window)
    h.open_session()  # chunk 0 goes out at once, on time
    h.now = 0.027  # the loop wakes 7 ms after chunk 1's deadline (0.02 s)
    h.conv.on_timer(h.now)
    h.advance(0.1)  # chunks 2-4 on time
    h.answer()
    assert pacing.count == 5 and pacing.max_s == pytest.approx(0.007)
    assert pacing.quantile_ms(0.5) == pytest.approx(0.005)  # on time: the first bucket (0-10 µs)

    h.advance(0.1)  # thinking, then turn 2 starts streaming
    h.now += 0.05  # the run's end holds the process up: 50 ms late...
    h.conv.on_timer(h.now)
    h.conv.on_stopped(h.now)  # ...then it stops the user
    record = h.conv.session_record()
    assert record.turns[-1].outcome == "harness.stopped"
    assert record.turns[-1].pacing_lag_ms > 20  # the record still says what happened
    assert pacing.count == 5 and pacing.max_s == pytest.approx(0.007)  # the pacing figures leave it out


def test_a_turn_begun_before_the_pacing_window_restarted_is_left_out_whole() -> None:
    window = PacingWindow()
    h = Harness(turns=3, think_time_s=0.1, pacing=window)
    h.open_session()  # turn 1 starts streaming at 0
    h.now = 0.047  # start-up work holds the process: chunk 1 (due at 0.02) goes out 27 ms late
    h.conv.on_timer(h.now)
    window.restart(h.now)  # --reset-stats: every user is spawned
    h.advance(0.1)
    h.answer()
    assert h.conv.session_record().turns[0].pacing_lag_ms > 20  # the record keeps it
    assert window.lags.count == 0  # the figures do not: the turn began before the window

    h.advance(0.1)  # thinking, then turn 2 starts inside the window
    h.advance(0.1)
    h.answer()
    assert window.lags.count == 5 and window.lags.max_s < 0.02


def test_a_close_at_the_session_cap_is_expected_not_a_failure() -> None:
    h = Harness(turns=3)
    h.open_session()
    h.advance(0.1)
    h.answer()
    h.conv.on_connection_ended(1001, "Your session hit the maximum duration of 60 minutes.", True, h.now)
    record = h.conv.session_record()
    assert record.outcome == "expired" and record.end_class == "session.expired"
    assert record.close_code == 1001 and record.close_frame_received is True


def test_context_truncation_is_counted_and_marked_on_the_turn() -> None:
    h = Harness(turns=1)
    h.open_session()
    h.advance(0.1)
    h.server({"type": "conversation.item.deleted", "item_id": "item_0"})
    h.answer()
    record = h.conv.session_record()
    assert record.context_truncations == 1 and record.turns[0].context_truncated


def test_server_vad_mode_streams_trailing_silence_and_never_commits() -> None:
    h = Harness(turns=1, turn_mode="server_vad")
    h.open_session()
    h.advance(0.35)
    assert "input_audio_buffer.commit" not in h.sent_types()
    assert "response.create" not in h.sent_types()
    assert h.sent_types().count("input_audio_buffer.append") == 15  # 100 ms prompt + 200 ms silence
    h.answer()
    assert h.conv.state is State.DONE


def test_burst_pace_sends_the_whole_prompt_at_once() -> None:
    h = Harness(turns=1, pace=Pace(None))
    h.open_session()
    assert h.sent_types().count("input_audio_buffer.append") == 5


def test_no_session_created_within_the_timeout_ends_the_session() -> None:
    h = Harness(turn_timeout_s=2.0)
    h.advance(2.5)
    record = h.conv.session_record()
    assert record.end_class == "timeout.first_audio" and record.failure_detail == "no session.created within 2 s"


def test_end_states_are_sticky_and_illegal_moves_raise() -> None:
    assert TRANSITIONS[State.DONE] == {} and TRANSITIONS[State.ENDED] == {}
    h = Harness()
    with pytest.raises(IllegalTransition):
        h.conv._fire(Trigger.PROMPT_SENT)  # an internal move the table does not allow while connecting
    h.conv.on_stopped(0.0)
    h.conv.on_connection_ended(None, "", False, 1.0)  # ignored: already ended
    assert h.conv.session_record().end_class == "harness.stopped"


def test_each_turn_record_carries_the_time_it_ended_also_when_prompts_are_sent_fast() -> None:
    h = Harness(turns=2, pace=Pace(20.0))
    h.open_session()
    h.advance(0.1)
    h.answer()
    h.advance(2.0)
    h.answer()
    record = h.conv.session_record()
    first, second = record.turns
    assert first.ended_at is not None and second.ended_at is not None
    assert first.started_at < first.ended_at < second.started_at < second.ended_at
    assert first.ended_at == pytest.approx(1_000.0 + 0.1 + 0.1, abs=1e-6)  # wall offset + clock at response.done


def test_progress_is_the_session_so_far_without_its_turns() -> None:
    h = Harness(turns=3)
    h.open_session()
    h.advance(0.1)
    h.answer()
    progress = h.conv.progress()
    assert progress.turns == () and progress.turns_completed == 1 and progress.outcome == "completed"
    assert progress.assistant_audio_s == h.conv.session_record().assistant_audio_s > 0
    assert progress.estimated_cost_usd == h.conv.session_record().estimated_cost_usd > 0


def test_the_engine_says_what_to_send_and_never_touches_the_adapter() -> None:
    h = Harness(turns=1)
    assert not hasattr(h.conv, "adapter")
    h.conv.handle(ev.SessionCreated("sess_1"), 0.0)
    assert h.conv.take_intents() == [Configure()]
    h.conv.handle(ev.SessionUpdated(), 0.0)
    h.conv.on_timer(0.2)
    intents = h.conv.take_intents()
    assert [type(i) for i in intents] == [AppendAudio] * 5 + [Commit, CreateResponse]


def test_a_server_event_a_state_does_not_expect_is_ignored() -> None:
    h = Harness()
    h.conv.handle(ev.ResponseDone("resp_x", "completed"), 0.0)  # no session yet: nothing to end
    assert h.conv.state is State.CONNECTING and h.conv.take_new_turns() == []
