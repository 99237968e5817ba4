"""WebSocket frame headers by hand (RFC 6455 §5.2) on the hot path: ``locate`` reads one in place (for
``frame_reader``, on both ends), ``data_frame`` makes a server's whole, unmasked data message (for the mock). Nearly
every frame a realtime session carries is one whole event, and ``websockets``' generator-based parser and
serialiser cost a frame object, several generator steps and copies for each.
"""

from __future__ import annotations

import struct

WHOLE_MESSAGE = frozenset({0x81, 0x82})
"""First bytes of a whole data message: FIN, no reserved bit, text or binary (the transport keeps both as text)."""

_MEDIUM_LENGTH = struct.Struct("!H").unpack_from
_LONG_LENGTH = struct.Struct("!Q").unpack_from
_SHORT_HEADER = struct.Struct("!BB").pack
_MEDIUM_HEADER = struct.Struct("!BBH").pack
_LONG_HEADER = struct.Struct("!BBQ").pack


def locate(buffer: bytes | bytearray, start: int) -> tuple[int, int, int, bool] | None:
    """The frame at ``start``: its first byte, where its payload starts and ends, and whether it is masked; None
    while its header is not all in ``buffer``. The end may lie beyond the buffer (the rest is still to come)."""
    available = len(buffer) - start
    if available < 2:
        return None
    second = buffer[start + 1]
    length = second & 0x7F
    payload = start + 2
    if length == 126:
        if available < 4:
            return None
        length = _MEDIUM_LENGTH(buffer, payload)[0]
        payload += 2
    elif length == 127:
        if available < 10:
            return None
        length = _LONG_LENGTH(buffer, payload)[0]
        payload += 8
    masked = bool(second & 0x80)
    if masked:
        payload += 4  # the masking key; a server must not mask, a client must (§5.1): the reader checks
    return buffer[start], payload, payload + length, masked


def header(first: int, length: int, masked: bool) -> bytes:
    """A frame's header up to its masking key: ``first`` (FIN, reserved bits, opcode), then the mask bit and the
    payload's length in its shortest form (7, 16 or 64 bits)."""
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return _SHORT_HEADER(first, mask_bit | length)
    if length < 65536:
        return _MEDIUM_HEADER(first, mask_bit | 126, length)
    return _LONG_HEADER(first, mask_bit | 127, length)


def data_frame(payload: bytes, binary: bool = False) -> bytes:
    """One unfragmented, unmasked server data frame holding ``payload``: text, or binary (Gemini's JSON)."""
    return header(0x82 if binary else 0x81, len(payload), False) + payload
