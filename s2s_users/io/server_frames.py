"""Server frames read by hand (RFC 6455 §5.2) on the hot path: nearly every frame a realtime server sends is one
whole event (a text frame with FIN set, unmasked), and ``websockets``' generator-based parser costs a frame object,
several generator steps and copies for each. ``locate`` reads a frame's header in place; the transport takes such a
whole message itself and hands every other frame, whole, to the protocol (control frames, fragments, masked frames,
reserved bits), so the protocol's parser is always at a frame's start when it is fed.
"""

from __future__ import annotations

import struct

WHOLE_MESSAGE = frozenset({0x81, 0x82})
"""First bytes of a whole data message: FIN, no reserved bit, text or binary (the transport keeps both as text)."""

_MEDIUM_LENGTH = struct.Struct("!H").unpack_from
_LONG_LENGTH = struct.Struct("!Q").unpack_from


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
        payload += 4  # a server must not mask (§5.1): the protocol fails such a frame, read whole
    return buffer[start], payload, payload + length, masked
