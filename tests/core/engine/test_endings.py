"""Every way a session or its turn ends gets its code from classify() and a detail a reader can act on."""

from __future__ import annotations

from s2s_users.core import events as ev
from s2s_users.core.engine import endings
from s2s_users.core.failures import FailureClass


def test_a_drop_without_a_close_frame_says_so_and_is_a_drop() -> None:
    ending = endings.connection_ended(None, "", frame_received=False, at_announced_end=False, early_by_s=None)
    assert ending.detail == "no close frame received or sent"
    assert ending.code is not FailureClass.SESSION_EXPIRED


def test_a_close_before_its_goaway_said_names_how_early_it_came() -> None:
    ending = endings.connection_ended(1011, "bye", frame_received=True, at_announced_end=False, early_by_s=12.5)
    assert ending.detail == "close 1011 bye (12.50 s before its goAway said)"


def test_a_close_at_the_announced_end_is_the_session_cap_not_a_failure() -> None:
    ending = endings.connection_ended(1000, "", frame_received=True, at_announced_end=True, early_by_s=None)
    assert ending.code is FailureClass.SESSION_EXPIRED


def test_a_message_we_cannot_read_ends_the_session_as_a_broken_protocol() -> None:
    ending = endings.server_ended(ev.MalformedMessage("not JSON"), at_announced_end=False)
    assert ending.code is FailureClass.PROTOCOL_UNEXPECTED and ending.detail == "not JSON"


def test_a_turn_timeout_after_goaway_says_the_server_went_silent_after_it() -> None:
    ending = endings.turn_timed_out(first_audio_seen=False, timeout_s=30.0, after_go_away=True)
    assert ending.detail == "no first audio within 30 s (the server had sent goAway)"


def test_a_rejected_configuration_quotes_the_servers_error() -> None:
    error = ev.ServerError(code="invalid_value", type="invalid_request_error", message="bad voice")
    ending = endings.configuration_rejected(error)
    assert ending.detail == "session.update rejected: invalid_value: bad voice"


def test_a_stop_by_locust_is_censored_as_the_harness_stopping() -> None:
    assert endings.stopped().code is FailureClass.HARNESS_STOPPED
