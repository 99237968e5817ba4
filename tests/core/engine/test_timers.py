"""The engine's clock: the next deadline is the earliest thing due, and each deadline brings its own move."""

from __future__ import annotations

from s2s_users.core import events as ev
from s2s_users.core.engine.account import SessionAccount
from s2s_users.core.engine.answers import Answers
from s2s_users.core.engine.script import build_script
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.engine.table import State, Trigger
from s2s_users.core.engine.timers import Deadlines
from s2s_users.core.engine.turn import TurnInProgress
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.records import SessionLabels

LABELS = SessionLabels("run1", "gpt-test", "openai", "marin", "manual", "default", "local")
SETTINGS = EngineSettings(turns=3, turn_timeout_s=10.0, think_time_s=1.0, barge_in_after_s=0.5)


def _parts() -> tuple[Deadlines, Answers, TurnInProgress]:
    account = SessionAccount.for_engine(SETTINGS, LABELS, 0.0, 0.0, ev.ProtocolCounts())
    turn = TurnInProgress.starting(1, build_script([("p1", bytes(4800))], 24_000, 20), SETTINGS, 0.0, False)
    return Deadlines(SETTINGS), Answers(SETTINGS, account, 0.0), turn


def test_before_the_session_is_set_up_only_its_setup_deadline_counts() -> None:
    deadlines, answers, _ = _parts()
    assert deadlines.next(State.CONNECTING, None, answers, setup_deadline=10.0) == 10.0
    assert deadlines.due(9.9, State.CONNECTING, None, answers, 10.0) is None
    due = deadlines.due(10.0, State.CONFIGURING, None, answers, 10.0)
    assert due is not None and due[0] is Trigger.SETUP_TIMEOUT and due[1] is not None
    assert due[1].detail == "no session.updated within 10 s"


def test_while_the_prompt_streams_the_next_chunk_is_next() -> None:
    deadlines, answers, turn = _parts()
    turn.take_due_chunk(0.0)
    assert deadlines.next(State.SENDING, turn, answers, 0.0) == 0.02


def test_a_barge_in_comes_before_the_turns_timeout_once_the_answer_sounds() -> None:
    deadlines, answers, turn = _parts()
    while turn.take_due_chunk(1.0) is not None:
        pass
    turn.prompt_sent(1.0)
    assert deadlines.next(State.AWAITING, turn, answers, 0.0) == 11.0  # the answer's first audio, within 10 s
    answers.own_audio(turn, ev.AudioDelta(b"\x00\x40" * 2400, "resp_1"), 2.0)
    assert deadlines.next(State.RECEIVING, turn, answers, 0.0) == 2.5
    assert deadlines.due(2.5, State.RECEIVING, turn, answers, 0.0) == (Trigger.BARGE_IN, None)


def test_the_pause_ends_after_the_think_time_and_a_quiet_answer_times_out() -> None:
    deadlines, answers, turn = _parts()
    deadlines.pause(5.0)
    assert deadlines.due(5.9, State.THINKING, turn, answers, 0.0) is None
    assert deadlines.due(6.0, State.THINKING, turn, answers, 0.0) == (Trigger.THINK_ELAPSED, None)
    while turn.take_due_chunk(1.0) is not None:
        pass
    turn.prompt_sent(1.0)
    assert deadlines.due(11.0, State.AWAITING, turn, answers, 0.0) == (Trigger.TURN_TIMEOUT, None)


def test_another_response_gone_quiet_ends_with_its_own_timeout() -> None:
    deadlines, answers, turn = _parts()
    answers.unsolicited(turn, "resp_x", State.SENDING, 1.0)
    due = deadlines.due(11.0, State.SENDING, turn, answers, 0.0)
    assert due is not None and due[0] is Trigger.OTHER_TIMEOUT and due[1] is not None
    assert due[1].code is FailureClass.TIMEOUT_FIRST_AUDIO
