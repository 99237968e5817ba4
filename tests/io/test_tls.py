"""The TLS layer in memory, against a server ``SSLObject``: no sockets, every byte handed over by the test."""

from __future__ import annotations

import ssl

import pytest

from s2s_users.io.tls import TlsLayer


class Server:
    """The server's end of one TLS connection, over memory BIOs."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)

    def receive(self, data: bytes) -> bytes:
        """What the client sent in; what the server has for it out."""
        self.incoming.write(data)
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()


def connected(tls_context: tuple[ssl.SSLContext, ...]) -> tuple[TlsLayer, Server]:
    server_context, client_context = tls_context
    client, server = TlsLayer(client_context, "127.0.0.1"), Server(server_context)
    while not client.handshake():
        client.receive(server.receive(client.to_send()))
    client.receive(server.receive(client.to_send()))  # TLS 1.3: the server's session tickets come after
    return client, server


def test_the_handshake_completes_and_text_goes_both_ways(tls_context: tuple[ssl.SSLContext, ...]) -> None:
    client, server = connected(tls_context)
    server.incoming.write(client.encrypt(b"hello server"))
    assert server.tls.read(100) == b"hello server"
    server.tls.write(b"hello client")
    assert client.decrypt(server.outgoing.read()) == (b"hello client", False)


def test_a_record_is_decrypted_only_once_all_its_bytes_came(tls_context: tuple[ssl.SSLContext, ...]) -> None:
    client, server = connected(tls_context)
    server.tls.write(b"x" * 1000)
    server.tls.write(b"y" * 10)
    records = server.outgoing.read()
    heard = [client.decrypt(records[i : i + 1]) for i in range(len(records))]
    assert [plain for plain, _ in heard if plain] == [b"x" * 1000, b"y" * 10]
    assert not any(ended for _, ended in heard)


def test_a_close_notify_and_a_bare_end_of_the_socket_both_end_the_stream(
    tls_context: tuple[ssl.SSLContext, ...],
) -> None:
    client, server = connected(tls_context)
    server.tls.write(b"last words")
    with pytest.raises(ssl.SSLWantReadError):
        server.tls.unwrap()  # sends close_notify, then would wait for the client's
    assert client.decrypt(server.outgoing.read()) == (b"last words", True)

    client, server = connected(tls_context)
    server.tls.write(b"cut")
    assert client.decrypt(server.outgoing.read()) == (b"cut", False)
    assert client.decrypt(b"") == (b"", True)  # TCP ended without close_notify: an end, as SSLSocket has it


def test_an_untrusted_certificate_fails_the_handshake(tls_context: tuple[ssl.SSLContext, ...]) -> None:
    server_context, _ = tls_context
    client, server = TlsLayer(ssl.create_default_context(), "127.0.0.1"), Server(server_context)
    with pytest.raises(ssl.SSLCertVerificationError):
        while not client.handshake():
            client.receive(server.receive(client.to_send()))
