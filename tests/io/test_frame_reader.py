"""The frame reader on the server's side (the mock's): client frames are masked. Reading whole messages by hand,
the mock hears the same messages, answers the same and fails the same as when ``websockets`` reads every byte,
however the stream is cut into reads. (The client's side: ``test_server_frames``.)"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.utils import apply_mask

from s2s_users.io.frame_reader import FrameReader
from tests.support.server_frames import BINARY, CLOSE, CONT, PING, PONG, TEXT, frame

MAX_SIZE = 4096
MASK = b"\x12\x34\x56\x78"


def client_frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    """A frame as a client sends it: masked (RFC 6455 §5.3)."""
    return frame(opcode, apply_mask(payload, MASK), fin=fin, mask=MASK, rsv=rsv)


def reader(by_hand: bool) -> tuple[FrameReader, list[str], list[Frame]]:
    messages: list[str] = []
    frames: list[Frame] = []
    protocol = ServerProtocol(state=State.OPEN, max_size=MAX_SIZE)
    frame_reader = FrameReader(protocol, MAX_SIZE, True, messages.append, frames.append)
    if by_hand:
        frame_reader.start()
    return frame_reader, messages, frames


def heard(stream: bytes, cuts: list[int], by_hand: bool) -> tuple[list[str], list[int], str, int, int | None]:
    """Messages heard, control frames seen, the state, bytes to send back (pongs, close frames) and the close code
    sent, for ``stream`` fed in reads cut at ``cuts``, then the end of TCP."""
    frame_reader, messages, frames = reader(by_hand)
    edges = [0, *sorted({cut for cut in cuts if 0 < cut < len(stream)}), len(stream)]
    for start, end in zip(edges, edges[1:], strict=False):
        frame_reader.feed(stream[start:end])
    frame_reader.feed(b"")
    protocol = frame_reader.protocol
    sent = sum(len(data) for data in protocol.data_to_send())
    close_sent = protocol.close_sent
    opcodes = [int(f.opcode) for f in frames]
    return messages, opcodes, protocol.state.name, sent, None if close_sent is None else close_sent.code


whole = st.builds(client_frame, st.sampled_from([TEXT, BINARY]), st.binary(max_size=300))
fragmented = st.lists(st.binary(max_size=40), min_size=2, max_size=4).map(
    lambda parts: b"".join(
        client_frame(CONT if i else TEXT, part, fin=i == len(parts) - 1) for i, part in enumerate(parts)
    )
)
control = st.builds(client_frame, st.sampled_from([PING, PONG]), st.binary(max_size=20))
broken = st.one_of(
    st.builds(frame, st.sampled_from([TEXT, PING]), st.binary(max_size=20)),  # unmasked: a client must mask
    st.builds(client_frame, st.just(TEXT), st.binary(max_size=20), rsv=st.sampled_from([0x40, 0x20, 0x10])),
    st.builds(client_frame, st.just(CONT), st.binary(max_size=20)),  # a continuation of nothing
    st.builds(client_frame, st.just(TEXT), st.binary(max_size=20), fin=st.just(False)),  # a fragment left open
    st.just(client_frame(TEXT, b"a" * (MAX_SIZE + 1))),
    st.just(client_frame(CLOSE, struct.pack("!H", 1000) + b"bye")),
    st.just(client_frame(CLOSE, b"\x03")),
    st.binary(min_size=1, max_size=12),  # not frames at all
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(whole, whole, fragmented, control, broken), max_size=8).map(b"".join),
    st.lists(st.integers(0, 4000), max_size=12),
)
def test_reading_masked_frames_by_hand_hears_answers_and_fails_exactly_as_the_protocol_alone(
    stream: bytes, cuts: list[int]
) -> None:
    assert heard(stream, cuts, by_hand=True) == heard(stream, cuts, by_hand=False)


def test_a_whole_masked_message_is_read_by_hand_without_the_protocol() -> None:
    frame_reader, messages, _ = reader(by_hand=True)
    frame_reader.feed(client_frame(TEXT, b'{"type":"input_audio_buffer.append"}'))
    assert messages == ['{"type":"input_audio_buffer.append"}']
    assert frame_reader.by_hand


def test_a_ping_goes_through_the_protocol_which_answers_it_and_reading_by_hand_goes_on() -> None:
    frame_reader, messages, frames = reader(by_hand=True)
    frame_reader.feed(client_frame(TEXT, b"one") + client_frame(PING, b"hi") + client_frame(TEXT, b"two"))
    assert messages == ["one", "two"]
    assert [f.opcode for f in frames] == [Opcode.PING]
    assert frame_reader.protocol.data_to_send() == [b"\x8a\x02hi"]  # the pong, unmasked as a server's
    assert frame_reader.by_hand


def test_an_unmasked_client_frame_fails_the_connection_with_1002() -> None:
    frame_reader, messages, _ = reader(by_hand=True)
    frame_reader.feed(frame(TEXT, b"not masked"))
    assert messages == []
    assert not frame_reader.by_hand
    assert frame_reader.protocol.close_sent is not None and frame_reader.protocol.close_sent.code == 1002


def test_a_frame_cut_across_reads_is_heard_once_whole() -> None:
    frame_reader, messages, _ = reader(by_hand=True)
    data = client_frame(TEXT, b"x" * 300)
    for at in range(0, len(data), 7):
        frame_reader.feed(data[at : at + 7])
    assert messages == ["x" * 300]
