"""Incoming WebSocket frames read by hand on the hot path, for both ends: our client (``transport``) and the mock
(``mockserver``). Nearly every frame of a realtime session is one whole event (a data frame with FIN set, masked
when a client sends it, unmasked when a server does), and ``websockets``' generator-based parser costs a frame
object, several generator steps and copies for each. ``FrameReader`` takes such a whole message itself and hands
every other frame, whole, to the protocol (control frames, fragments, frames masked the wrong way, reserved bits,
frames over the size limit), so the protocol's parser is always at a frame's start when it is fed, and everything
but whole data messages (pings, closing, failing the connection) stays the library's.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, State

from s2s_users.io.server_frames import WHOLE_MESSAGE, locate

try:
    from websockets.speedups import apply_mask  # C: websockets ships it in its wheels
except ImportError:  # pragma: no cover - a platform without the extension: the library's own fallback
    from websockets.utils import apply_mask

_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


class FrameReader:
    """Feeds one connection's incoming bytes to ``protocol``, reading whole data messages by hand once ``start``
    is called (the handshake is over: the protocol is at a frame's start), while the protocol is open and no
    extension is in use. ``masked``: the frames this end must receive are masked (we are the server).

    Every data message, read by hand or by the protocol, whole or in fragments, goes to ``on_message`` as text
    (binary ones too: both ends speak JSON; invalid UTF-8 is replaced, not fatal); every other frame the protocol
    parses goes to ``on_frame`` (a pong, a ping it has answered, a close frame)."""

    def __init__(
        self,
        protocol: Protocol,
        max_size: int,
        masked: bool,
        on_message: Callable[[str], None],
        on_frame: Callable[[Frame], None],
    ) -> None:
        self.protocol = protocol
        self.max_size = max_size
        self.masked = masked
        self.on_message = on_message
        self.on_frame = on_frame
        self.by_hand = False
        self._inbox = bytearray()  # the start of a frame still coming, while read by hand
        self._fragments: list[bytes] = []

    def start(self) -> None:
        """The handshake is over: from here whole messages are read by hand (not with an extension, which may
        change payloads: compression; neither end negotiates one)."""
        self.by_hand = self.protocol.state is State.OPEN and not self.protocol.extensions

    def feed(self, data: bytes) -> None:
        """Bytes read from the connection; ``b""`` is the end of the stream."""
        protocol = self.protocol
        if self.by_hand and (not data or protocol.state is not State.OPEN):
            self._hand_over(b"")  # the end of the stream or of the connection: the protocol's to read
        if self.by_hand:
            self._read_frames(data)
            if self.by_hand:
                return  # every frame went to on_message, or through the protocol with its events taken at once
        elif data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        self.take_events()

    def take_events(self) -> None:
        """What the protocol has parsed: data frames joined into messages, the others to ``on_frame``."""
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                self._take(event)

    def _read_frames(self, data: bytes) -> None:
        """Each whole message straight to ``on_message``; every other frame, whole, through the protocol, in
        order; the start of a frame still coming kept for the next read."""
        protocol, limit, masked_here = self.protocol, self.max_size, self.masked
        buffer: bytes | bytearray = data
        if self._inbox:
            buffer, self._inbox = self._inbox, bytearray()
            buffer += data
        at, size = 0, len(buffer)
        while (frame := locate(buffer, at)) is not None:
            first, start, end, masked = frame
            if end - start > limit:  # the protocol fails the connection on this header (1009): all is its own
                self._hand_over(buffer[at:])
                at = size
                break
            if end > size:
                break
            if first in WHOLE_MESSAGE and masked is masked_here and not self._fragments:
                payload = apply_mask(buffer[start:end], buffer[start - 4 : start]) if masked else buffer[start:end]
                self.on_message(str(payload, "utf-8", "replace"))
            else:
                protocol.receive_data(bytes(buffer[at:end]))
                self.take_events()
                if protocol.state is not State.OPEN:  # a close frame, or a frame the protocol failed
                    self._hand_over(buffer[end:])
                    at = size
                    break
            at = end
        if at < size:  # kept in place: a large frame coming in many reads is not copied again at each
            if isinstance(buffer, bytearray):
                del buffer[:at]
                self._inbox = buffer
            else:
                self._inbox = bytearray(buffer[at:])

    def _hand_over(self, rest: bytes | bytearray) -> None:
        """From now on the protocol reads every byte: what the hand reader kept first, then ``rest``."""
        self.by_hand = False
        kept, self._inbox = self._inbox, bytearray()
        for data in (kept, rest):
            if data:
                self.protocol.receive_data(bytes(data))

    def _take(self, frame: Frame) -> None:
        if frame.opcode not in _DATA:
            self.on_frame(frame)
        elif frame.fin and not self._fragments:  # a whole message in one frame (nearly all): no copies to join
            self.on_message(bytes(frame.data).decode("utf-8", errors="replace"))
        else:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                self.on_message(b"".join(self._fragments).decode("utf-8", errors="replace"))
                self._fragments = []
