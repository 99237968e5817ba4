"""Client text frames made by hand (RFC 6455 §5.2): the hot path's one frame per audio chunk, built without the
protocol object's generality. Masks are fresh per frame, as §5.3 requires, drawn from a pooled strong source;
masking itself is ``websockets``' C speedup; the header is ``server_frames``' (one for both ends).
"""

from __future__ import annotations

import os

try:
    from websockets.speedups import apply_mask  # C: websockets ships it in its wheels
except ImportError:  # pragma: no cover - a platform without the extension: the library's own fallback
    from websockets.utils import apply_mask

from s2s_users.io.server_frames import header


class MaskKeys:
    """Masking keys for client frames: RFC 6455 §5.3 wants each unpredictable (a strong entropy source), so they come
    from ``os.urandom``, 4 KiB at a time rather than a system call per frame; each key is used once."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(4096), 0
        key = self._pool[self._at : self._at + 4]
        self._at += 4
        return key


def text_frame(payload: bytes, mask: bytes) -> bytes:
    """One unfragmented, masked client text frame (RFC 6455 §5.2) holding ``payload``."""
    return b"".join((header(0x81, len(payload), True), mask, apply_mask(payload, mask)))
