"""The engine's table: every live state can end, end states are sticky, server events map to triggers."""

from __future__ import annotations

from s2s_users.core import events as ev
from s2s_users.core.engine.table import TRANSITIONS, TRANSITIONS_BY_MODE, State, Trigger, trigger_of


def test_every_live_state_can_end_the_session() -> None:
    live = [s for s in State if s not in (State.DONE, State.ENDED)]
    assert all(TRANSITIONS[s][Trigger.SESSION_ENDED].next is State.ENDED for s in live)


def test_an_error_about_our_configuration_is_its_own_trigger() -> None:
    assert trigger_of(ev.ServerError("invalid_value", None, "bad voice", about_configuration=True)) is (
        Trigger.CONFIG_REJECTED
    )
    assert trigger_of(ev.ServerError("session_expired", None, "cap")) is Trigger.CAP_ERROR
    assert trigger_of(ev.ServerError("rate_limit_exceeded", None, "slow down")) is Trigger.SERVER_ERROR
    assert trigger_of(ev.UnknownEvent("x.y")) is None


def test_audio_while_the_prompt_streams_is_never_the_turns_own_answer() -> None:
    for table in TRANSITIONS_BY_MODE.values():
        assert table[State.SENDING][Trigger.AUDIO].next is None  # counted elsewhere, the turn stays as it is
        assert table[State.SENDING][Trigger.RESPONSE_CREATED].next is None


def test_a_response_the_turn_did_not_ask_for_can_start_in_any_turn_state() -> None:
    for state in (State.SENDING, State.RECEIVING, State.THINKING):
        assert Trigger.RESPONSE_CREATED in TRANSITIONS[state] and Trigger.OTHER_RESPONSE_DONE in TRANSITIONS[state]
