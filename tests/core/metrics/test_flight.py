"""The flight recorder: a bounded ring of wire events, named by intent and event, never holding a payload."""

from __future__ import annotations

import gc
import json

from s2s_users.core import events as ev
from s2s_users.core.intents import AppendAudio, Commit
from s2s_users.core.metrics.flight import Direction, FlightRecorder, WireEvent


def test_the_ring_keeps_only_the_last_events_in_order() -> None:
    flight = FlightRecorder(capacity=3, wall_offset=1_000.0)
    for index in range(5):
        flight.sent(AppendAudio("QUJD"), 100 + index, float(index))
    events = flight.events()
    assert [e.size for e in events] == [102, 103, 104] and len(flight) == 3
    assert events[0] == WireEvent(1_002.0, Direction.SENT, "audio.append", 102)


def test_a_ring_not_yet_full_keeps_all_in_order_and_a_ring_of_none_keeps_nothing() -> None:
    flight, empty = FlightRecorder(capacity=4), FlightRecorder(capacity=0)
    for index in range(2):
        flight.sent(Commit(), index, float(index))
        empty.sent(Commit(), index, float(index))
    assert [e.size for e in flight.events()] == [0, 1] and len(flight) == 2
    assert empty.events() == () and len(empty) == 0


def test_an_entry_leaves_nothing_for_the_garbage_collector_to_track() -> None:
    # A ring of tuples kept 200 tracked tuples per session young: collecting them held the hub for 30 ms.
    flight = FlightRecorder(capacity=200)
    delta = [ev.AudioDelta(b"\x00\x00" * 480, "r1")]
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for index in range(1_000):
            flight.sent(AppendAudio("QUJD"), 6_444, float(index))
            flight.received(delta, 6_500, float(index))
        assert len(gc.get_objects()) - before < 20
    finally:
        gc.enable()


def test_audio_is_kept_as_its_type_and_size_and_counted_into_the_done_of_its_response() -> None:
    flight = FlightRecorder()
    flight.received([ev.ResponseCreated("r1")], 60, 0.0)
    flight.received([ev.AudioDelta(b"\x01\x02" * 50, "r1")], 180, 0.1)
    flight.received([ev.ResponseDone("r1", "completed")], 300, 0.2)
    flight.sent(Commit(), 40, 0.3)
    flight.sent(None, 500, 0.3)
    flight.connection("closed", 0.4, "no close frame")
    created, delta, done, commit, setup, closed = flight.events()
    assert (created.kind, created.response_id) == ("response.created", "r1")
    assert (delta.kind, delta.size, delta.note) == ("audio.delta", 180, None)
    assert done.note == "status completed, 100 audio bytes in this response"
    assert (commit.kind, setup.kind) == ("commit", "setup")
    assert (closed.direction, closed.note) == (Direction.CONNECTION, "no close frame")
    lines = [json.loads(line) for line in flight.to_jsonl().splitlines()]
    assert [WireEvent.from_dict(line) for line in lines] == list(flight.events())
    assert "AQI" not in flight.to_jsonl()  # the audio's bytes never reach the file


def test_a_frame_holding_several_events_is_one_entry_naming_them_all() -> None:
    flight = FlightRecorder()
    flight.received([ev.AudioDelta(b"\x00\x00", "t1"), ev.ResponseDone("t1", "completed")], 90, 0.0)
    (entry,) = flight.events()
    assert entry.kind == "audio.delta+response.done" and entry.response_id == "t1"
    assert entry.note == "status completed, 2 audio bytes in this response"


def test_server_text_in_notes_is_cut_short() -> None:
    flight = FlightRecorder()
    flight.received([ev.ServerError("server_error", None, "x" * 1_000)], 1_100, 0.0)
    (entry,) = flight.events()
    assert entry.kind == "error" and entry.note is not None and len(entry.note) == 160


def test_a_lone_audio_delta_makes_the_entry_the_general_reading_makes() -> None:
    fast, general = FlightRecorder(wall_offset=100.0), FlightRecorder(wall_offset=100.0)
    stream: list[list[ev.Event]] = [
        [ev.AudioDelta(b"\x01\x02" * 10, "resp_1")],
        [ev.AudioDelta(b"\x01", "")],
        [ev.AudioDelta(b"", "resp_1")],
        [ev.ResponseDone("resp_1", "completed")],
        [ev.ResponseDone("", "completed")],
    ]
    for at, events in enumerate(stream):
        fast.received(events, 7, float(at))
        general.received(iter(events), 7, float(at))  # not a list: read event by event
    assert fast.events() == general.events()
    assert fast.events()[0] == WireEvent(100.0, Direction.RECEIVED, "audio.delta", 7, "resp_1", None)
    assert fast.events()[1].response_id is None
    assert "20 audio bytes" in (fast.events()[3].note or "")
