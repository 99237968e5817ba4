"""TLS as bytes in and bytes out (``ssl.SSLObject`` over memory BIOs), for ``transport``'s wss:// connections.

Why not ``ssl.SSLSocket``: the socket under TLS stays a plain one that ``transport`` reads itself, so its reads
keep the kernel's receive stamps (a busy worker's time to first audio stays the server's, over TLS as without),
every record a read completes is decrypted at once (no ``pending()`` bytes the socket never signals), and a tunnel
through an HTTPS proxy (already TLS to the proxy) carries our TLS like any other bytes.
"""

from __future__ import annotations

import ssl

READ_SIZE = 65536


class TlsLayer:
    """One client TLS connection's state: ``handshake`` until it is done, then ``encrypt`` what goes out and
    ``decrypt`` what comes in; ``to_send`` is what TLS itself has for the peer (handshake, key updates)."""

    def __init__(self, context: ssl.SSLContext, server_hostname: str) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._object = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)

    def handshake(self) -> bool:
        """One step of the handshake; True when it is done (``ssl.SSLError`` when it failed: a certificate
        refused, the peer no TLS server...)."""
        try:
            self._object.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def receive(self, data: bytes) -> None:
        """Bytes from the socket; ``b""`` is its end."""
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    def to_send(self) -> bytes:
        return self._outgoing.read()

    def encrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """``data`` as TLS records, with anything TLS had queued before them."""
        view = memoryview(data)
        while view:
            view = view[self._object.write(view) :]
        return self._outgoing.read()

    def decrypt(self, data: bytes) -> tuple[bytes, bool]:
        """Bytes from the socket (``b""``: its end) → the plaintext of every record now complete, and whether the
        stream has ended (the peer's close_notify, or the socket's end with or without one: as ``SSLSocket``'s
        ``suppress_ragged_eofs``, an end without close_notify is an end, not an error)."""
        self.receive(data)
        chunks = []
        ended = False
        read = self._object.read
        while True:
            try:
                chunk = read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                ended = True
                break
            if not chunk:
                ended = True
                break
            chunks.append(chunk)
        return b"".join(chunks), ended
