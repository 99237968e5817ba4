"""Server frames read by hand: ``locate`` reads every header form, and a transport reading by hand hears the same
messages, answers the same and fails the same as one where ``websockets`` reads every byte, however the stream is
cut into reads."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from s2s_users.io.server_frames import data_frame, locate
from s2s_users.io.transport import TransportOptions, WebSocket
from tests.support.server_frames import BINARY, CLOSE, CONT, PING, PONG, TEXT, frame

MAX_SIZE = 4096
OPTIONS = TransportOptions(ping_interval_s=None, max_size=MAX_SIZE, use_proxy=False)


def test_locate_reads_short_medium_and_long_lengths_and_the_mask_bit() -> None:
    assert locate(frame(TEXT, b"hi"), 0) == (0x81, 2, 4, False)
    assert locate(b"xx" + frame(TEXT, b"a" * 300), 2) == (0x81, 6, 306, False)
    assert locate(frame(BINARY, b"a" * 70000, fin=False), 0) == (0x02, 10, 70010, False)
    assert locate(frame(PING, b"p", mask=b"abcd"), 0) == (0x89, 6, 7, True)


def test_locate_waits_for_a_whole_header_but_not_for_the_payload() -> None:
    medium, long = frame(TEXT, b"a" * 300), frame(TEXT, b"a" * 70000)
    assert [locate(medium[:n], 0) for n in (0, 1, 2, 3)] == [None] * 4
    assert [locate(long[:n], 0) for n in (2, 9)] == [None] * 2
    assert locate(long[:10], 0) == (0x81, 10, 70010, False)


@contextmanager
def open_websocket(by_hand: bool) -> Iterator[tuple[WebSocket, socket.socket]]:
    """A WebSocket past its handshake on one end of a socket pair (its answers readable at the other end)."""
    ours, theirs = socket.socketpair()
    protocol = ClientProtocol(parse_uri("ws://127.0.0.1/"), state=State.OPEN, max_size=MAX_SIZE)
    ws = WebSocket(ours, protocol, OPTIONS)
    ws._reader.by_hand = by_hand
    theirs.setblocking(False)
    try:
        yield ws, theirs
    finally:
        ours.close()
        theirs.close()


def heard(stream: bytes, cuts: list[int], by_hand: bool) -> tuple[list[str], str, int, int | None]:
    """Messages heard, the state, bytes sent back (pongs, close frames: masks differ, lengths do not) and the close
    code sent, for ``stream`` fed in reads cut at ``cuts``, then the end of TCP."""
    with open_websocket(by_hand) as (ws, theirs):
        edges = [0, *sorted({cut for cut in cuts if 0 < cut < len(stream)}), len(stream)]
        for start, end in zip(edges, edges[1:], strict=False):
            ws._feed(stream[start:end])
        ws._feed(b"")
        messages = []
        while (message := ws.message_now()) is not None:
            messages.append(message)
        sent = b""
        try:
            while chunk := theirs.recv(65536):
                sent += chunk
        except BlockingIOError:
            pass
        close_sent = ws.protocol.close_sent
        return messages, ws.protocol.state.name, len(sent), None if close_sent is None else close_sent.code


whole = st.builds(frame, st.sampled_from([TEXT, BINARY]), st.binary(max_size=300))
fragmented = st.lists(st.binary(max_size=40), min_size=2, max_size=4).map(
    lambda parts: b"".join(frame(CONT if i else TEXT, part, fin=i == len(parts) - 1) for i, part in enumerate(parts))
)
control = st.builds(frame, st.sampled_from([PING, PONG]), st.binary(max_size=20))
broken = st.one_of(
    st.builds(frame, st.sampled_from([TEXT, PING]), st.binary(max_size=20), mask=st.just(b"abcd")),  # masked
    st.builds(frame, st.just(TEXT), st.binary(max_size=20), rsv=st.sampled_from([0x40, 0x20, 0x10])),
    st.builds(frame, st.just(CONT), st.binary(max_size=20)),  # a continuation of nothing
    st.builds(frame, st.just(TEXT), st.binary(max_size=20), fin=st.just(False)),  # a fragment left open...
    st.just(frame(TEXT, b"a" * (MAX_SIZE + 1))),
    st.just(frame(CLOSE, struct.pack("!H", 1000) + b"bye")),
    st.just(frame(CLOSE, b"\x03")),
    st.binary(min_size=1, max_size=12),  # not frames at all
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(whole, whole, fragmented, control, broken), max_size=8).map(b"".join),
    st.lists(st.integers(0, 4000), max_size=12),
)
def test_reading_by_hand_hears_answers_and_fails_exactly_as_the_protocol_alone(stream: bytes, cuts: list[int]) -> None:
    assert heard(stream, cuts, by_hand=True) == heard(stream, cuts, by_hand=False)


def test_a_close_frame_hands_the_rest_of_the_stream_to_the_protocol() -> None:
    stream = frame(TEXT, b"one") + frame(CLOSE, struct.pack("!H", 1000)) + frame(TEXT, b"after the close")
    with open_websocket(by_hand=True) as (ws, _):
        ws._feed(stream)
        assert not ws._reader.by_hand
        assert ws.message_now() == "one"
        assert ws.message_now() is None  # websockets discards data after a close frame: so do we
        try:
            ws.poll(0)
        except ConnectionClosed:
            pass
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536])
@pytest.mark.parametrize("binary", [False, True])
def test_a_data_frame_made_by_hand_is_the_one_websockets_reads_in_every_length_form(length: int, binary: bool) -> None:
    payload = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    data = data_frame(payload, binary)
    header = 2 if length < 126 else 4 if length < 65536 else 10
    assert locate(data, 0) == (0x82 if binary else 0x81, header, header + length, False)
    protocol = ClientProtocol(parse_uri("ws://127.0.0.1/"), state=State.OPEN, max_size=None)
    protocol.receive_data(data)
    [event] = protocol.events_received()
    assert isinstance(event, Frame) and event.opcode is (Opcode.BINARY if binary else Opcode.TEXT)
    assert event.fin and event.data == payload
