"""Server frames made by hand (RFC 6455 §5.2): a few bytes of header, so malformed ones are easy to make."""

from __future__ import annotations

import struct

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes = b"", rsv: int = 0) -> bytes:
    """A server frame: FIN bit, reserved bits and opcode, the length in 7, 16 or 64 bits, then ``mask`` (a server
    must not mask: give one to make a frame the client refuses) and the payload, as given."""
    return header(opcode, len(payload), fin, masked=bool(mask), rsv=rsv) + mask + payload


def header(opcode: int, length: int, fin: bool = True, masked: bool = False, rsv: int = 0) -> bytes:
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return bytes([first, mask_bit | length])
    if length < 2**16:
        return bytes([first, mask_bit | 126]) + struct.pack("!H", length)
    return bytes([first, mask_bit | 127]) + struct.pack("!Q", length)
