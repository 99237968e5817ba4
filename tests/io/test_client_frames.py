"""Frames we build by hand read back, through websockets' own parser, as the text we sent."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from s2s_users.io.client_frames import MaskKeys, text_frame


def _parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=True)  # a server reads client frames: masked
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("the frame was not complete")


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65535, 65536, 70000])
def test_each_length_class_reads_back_as_the_text_sent(length: int) -> None:
    payload = ("x" * length).encode()
    frame = _parse(text_frame(payload, MaskKeys().next()))
    assert frame.opcode is Opcode.TEXT and frame.fin and frame.data == payload


def test_every_frame_gets_its_own_mask() -> None:
    keys = MaskKeys()
    masks = [keys.next() for _ in range(3000)]  # past one pool of 4 KiB
    assert all(len(m) == 4 for m in masks) and len(set(masks)) > 2990
