"""The audio tape: two turns at a time until the first failure, or every turn handed out as it ends."""

from __future__ import annotations

from s2s_users.core.metrics.tape import AudioTape


def _play(tape: AudioTape, turn: int, pcm: bytes, failed: bool = False) -> None:
    tape.begin(turn)
    tape.add(pcm[:2])
    tape.add(pcm[2:])
    tape.turn_ended(turn, failed)


def test_it_holds_the_turn_at_the_first_failure_and_the_one_before_it() -> None:
    tape = AudioTape()
    for turn in range(1, 5):
        _play(tape, turn, bytes([turn]) * 4)
    assert tape.held() == []  # no failure yet: nothing to keep
    _play(tape, 5, b"", failed=True)
    _play(tape, 6, b"\x06" * 4, failed=True)  # after the failure: not kept
    assert tape.held() == [(4, b"\x04" * 4), (5, b"")]


def test_with_all_every_turn_is_handed_out_once_as_it_ends() -> None:
    tape = AudioTape(keep_all=True)
    _play(tape, 1, b"\x01" * 4)
    _play(tape, 2, b"\x02" * 6)
    assert tape.take_finished() == [(1, b"\x01" * 4), (2, b"\x02" * 6)]
    assert tape.take_finished() == [] and tape.held() == []
