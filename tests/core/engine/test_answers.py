"""Every response of a session goes where it belongs, is counted to its end and booked in the session's account."""

from __future__ import annotations

from s2s_users.core import events as ev
from s2s_users.core.engine.account import SessionAccount
from s2s_users.core.engine.answers import LEFTOVER, VAD_SPLIT, Answers
from s2s_users.core.engine.script import build_script
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.engine.table import State, Trigger
from s2s_users.core.engine.turn import TurnInProgress
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.records import SessionLabels
from s2s_users.core.metrics.tape import AudioTape

LABELS = SessionLabels("run1", "gpt-test", "openai", "marin", "manual", "default", "local")
LOUD = (b"\x00\x40" + b"\x00\xc0") * 1200  # 100 ms of ±16384 PCM16 at 24 kHz
SETTINGS = EngineSettings(turns=3)


def _session(tape: AudioTape | None = None) -> tuple[Answers, SessionAccount, TurnInProgress]:
    account = SessionAccount.for_engine(SETTINGS, LABELS, 0.0, 0.0, ev.ProtocolCounts())
    script = build_script([("p1", bytes(4800))], 24_000, 20)
    turn = TurnInProgress.starting(1, script, SETTINGS, 0.0, after_rotation=False)
    return Answers(SETTINGS, account, 0.0, tape), account, turn


def test_audio_of_another_response_while_the_turn_has_its_own_goes_to_the_others() -> None:
    answers, _, turn = _session()
    answers.start(turn, "resp_own", 1.0)
    own = turn.response
    assert answers.route(Trigger.AUDIO, ev.AudioDelta(LOUD, "resp_own"), own) is Trigger.AUDIO
    assert answers.route(Trigger.AUDIO, ev.AudioDelta(LOUD, "resp_else"), own) is Trigger.OTHER_AUDIO
    assert answers.route(Trigger.RESPONSE_DONE, ev.ResponseDone("resp_else", "completed"), own) is (
        Trigger.OTHER_RESPONSE_DONE
    )


def test_an_unsolicited_response_is_named_by_what_the_turn_was_doing_and_booked_at_its_done() -> None:
    answers, account, turn = _session()
    answers.unsolicited(turn, "resp_split", State.SENDING, 0.5)
    answers.unsolicited(turn, "resp_left", State.THINKING, 0.6)
    answers.count_other(ev.AudioDelta(LOUD, "resp_split"), 0.7)
    assert answers.end_other(ev.ResponseDone("resp_split", "completed"), 0.8) is None  # a healthy end
    (record,) = account.take_new_turns()
    assert record.unsolicited_reason == VAD_SPLIT and not record.solicited and record.audio_bytes == len(LOUD)
    answers.cut_by_end(FailureClass.HARNESS_STOPPED, 1.0)
    (cut,) = account.take_new_turns()
    assert cut.unsolicited_reason == LEFTOVER and cut.detail == "the session ended before this response did"


def test_a_stragglers_done_books_nothing_and_its_audio_counts_for_the_session() -> None:
    answers, account, turn = _session()
    answers.start(turn, "resp_own", 0.1)
    answers.book_turn(turn, None, 0.5, None, turn.timing("manual"))
    account.take_new_turns()
    assert answers.end_other(ev.ResponseDone("resp_own", "completed"), 0.6) is None
    assert account.take_new_turns() == []
    answers.count_other(ev.AudioDelta(LOUD, "resp_nobody"), 0.7)
    assert account.progress().stray_audio_s > 0


def test_the_own_answers_audio_goes_to_the_tape_and_an_empty_done_is_zero_audio() -> None:
    tape = AudioTape(keep_all=True)
    answers, _, turn = _session(tape)
    answers.turn_started(1, 0.0)
    answers.own_audio(turn, ev.AudioDelta(LOUD, "resp_1"), 0.2)
    assert turn.response is not None and turn.response.audio_bytes == len(LOUD)
    answers.book_turn(turn, None, 0.5, None, turn.timing("manual"))
    assert tape.take_finished() == [(1, LOUD)]
    empty = TurnInProgress.starting(2, build_script([("p1", bytes(4800))], 24_000, 20), SETTINGS, 1.0, False)
    code, detail = answers.own_done(empty, ev.ResponseDone("resp_2", "completed"), 1.5)
    assert code is FailureClass.ZERO_AUDIO and detail == "response.done completed with zero audio bytes"
