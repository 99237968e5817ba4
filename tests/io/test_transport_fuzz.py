"""Property-based fuzzing of the client transport and the session loop against a hostile server on 127.0.0.1.

The server is a real TCP socket in a thread. It completes a real WebSocket handshake, sends ``session.created``
(and, if hypothesis says so, ``session.updated`` so that a turn starts), then something hypothesis chooses:
random bytes that are not frames, text frames that are not UTF-8, binary frames, a frame declaring more than
``max_size``, fragments never finished, malformed close or control frames, mutated server messages, valid frames
trickled a byte at a time, or nothing at all; then it holds the connection open, ends it (FIN) or resets it
(RST). Frames are built by hand (the server side of RFC 6455 is a few bytes of header), so malformed ones are
easy. One more server stops reading altogether.

Driven by the real ``run_session()``, the properties are: it returns a ``SessionRecord`` (never raises), the
session ends with one of the taxonomy's terminal codes (or plays its one turn, when the server's bytes were an
answer after all), the call returns within a bound derived from the timeouts (a hang detector, generous for a
busy machine), and a frame declaring more than ``max_size`` is refused (we close with 1009) instead of buffered.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from websockets.utils import accept_key

from s2s_users.core.engine.conversation import Conversation
from s2s_users.core.engine.pacing import Pace
from s2s_users.core.engine.script import build_script
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.metrics.records import SessionLabels, SessionRecord
from s2s_users.core.protocols.openai_realtime import OpenAIRealtimeProtocol, RealtimeSettings, connect_request
from s2s_users.io.pump import Pump
from s2s_users.io.session import run_session
from s2s_users.io.transport import TransportOptions
from tests.support.server_frames import BINARY, CLOSE, CONT, PING, PONG, TEXT, frame, header
from tests.support.server_messages import mutated_recordings

LABELS = SessionLabels("run", "m", "openai", "marin", "manual", "default", "local")
MAX_SIZE = 64 * 1024
TURN_TIMEOUT_S = 0.3
OPTIONS = TransportOptions(
    open_timeout_s=2.0, ping_interval_s=None, close_timeout_s=0.2, max_size=MAX_SIZE, use_proxy=False
)
TERMINAL_CODES = {
    "server.error_event",  # the recorded error event blames our session.update (evt_s2s_1): a rejected set-up
    "transport.closed_no_frame",
    "transport.closed_frame",
    "protocol.unexpected",
    "timeout.first_audio",
    "timeout.stall",
    "connect.rejected",
}
AUDIO = b"\x00\x40\x00\xc0" * 120  # 10 ms at -6 dBFS: a short answer, quick to trickle
AUDIO_B64 = base64.b64encode(AUDIO).decode()

# --- frames, by hand ------------------------------------------------------------------------------------------


def text(message: dict[str, object]) -> bytes:
    return frame(TEXT, json.dumps(message).encode())


SESSION_CREATED = text({"type": "session.created", "session": {"id": "sess_H"}})
SESSION_UPDATED = text({"type": "session.updated", "session": {}})
HEALTHY_ANSWER = [
    {"type": "response.created", "response": {"id": "r"}},
    {"type": "response.output_audio.delta", "delta": AUDIO_B64},
    {"type": "response.done", "response": {"id": "r", "status": "completed"}},
]

# --- what the hostile server does -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    """Bytes to send after the opening, in pieces with pauses between them; then how the server ``ends``.

    ``hold``: keep the connection open (reading); ``fin``: end TCP cleanly but without a close frame; ``reset``:
    abort with a TCP RST (what a crashed proxy does: the client may lose data it has not read yet).
    """

    name: str
    pieces: tuple[bytes, ...]
    pause_s: float = 0.0
    ends: str = "hold"
    delay_s: float = 0.0
    """A wait before the attack: with it the client has sent its turn and only reads when the bytes come."""

    def __repr__(self) -> str:  # hypothesis prints failing examples: keep them readable
        size = sum(len(p) for p in self.pieces)
        head = b"".join(self.pieces)[:48]
        return (
            f"Attack({self.name!r}, {len(self.pieces)} pieces, {size} bytes {head!r}..., ends={self.ends!r}, "
            f"delay_s={self.delay_s})"
        )


def one_byte_at_a_time(data: bytes) -> tuple[bytes, ...]:
    return tuple(data[i : i + 1] for i in range(len(data)))


ends_of_attacks = st.sampled_from(["hold", "fin", "reset"])
not_utf8 = st.binary(min_size=1, max_size=60).map(lambda b: b"\xff" + b)  # 0xFF never appears in UTF-8


def single_frame(
    name: str, payloads: st.SearchStrategy[bytes], opcode: int, fin: bool = True
) -> st.SearchStrategy[Attack]:
    return st.builds(
        lambda payload, ends: Attack(name, (frame(opcode, payload, fin),), ends=ends), payloads, ends_of_attacks
    )


random_bytes = st.builds(
    lambda data, ends: Attack("random bytes", (data,), ends=ends), st.binary(min_size=1, max_size=300), ends_of_attacks
)
invalid_utf8_text = single_frame("text not UTF-8", not_utf8, TEXT)
binary_garbage = single_frame("binary frame", not_utf8, BINARY)
# We read binary frames like text ones: JSON in them is a message.
binary_json = single_frame("binary JSON", st.sampled_from(HEALTHY_ANSWER).map(lambda m: json.dumps(m).encode()), BINARY)
huge_declared = st.builds(
    lambda opcode, length, tail, ends: Attack("huge declared", (header(opcode, length) + tail,), ends=ends),
    st.sampled_from([TEXT, BINARY]),
    st.integers(MAX_SIZE + 1, 2**63 - 1) | st.sampled_from([MAX_SIZE + 1, 2**63 - 1]),
    st.binary(max_size=2000),
    ends_of_attacks,
)
unfinished_fragments = st.builds(
    lambda first, more, ends: Attack(
        "fragments never finished",
        (frame(TEXT, first, fin=False), *(frame(CONT, part, fin=False) for part in more)),
        ends=ends,
    ),
    st.binary(max_size=50),
    st.lists(st.binary(max_size=50), max_size=3),
    ends_of_attacks,
)
bad_close_frames = single_frame(
    "malformed close frame",  # too short, codes that may not be sent, a reason that is not UTF-8
    st.sampled_from([b"\x03", struct.pack("!H", 999), struct.pack("!H", 1005), struct.pack("!H", 1000) + b"\xff"]),
    CLOSE,
)
# Pings and pongs are answered or ignored; over 125 bytes or fragmented they break the protocol.
control_frames = st.builds(
    lambda opcode, payload, fin, ends: Attack("control frame", (frame(opcode, payload, fin),), ends=ends),
    st.sampled_from([PING, PONG]),
    st.binary(max_size=200),
    st.booleans(),
    ends_of_attacks,
)
broken_control_frames = single_frame("ping over 125 bytes", st.binary(min_size=126, max_size=200), PING) | single_frame(
    "fragmented ping", st.binary(max_size=20), PING, fin=False
)
mutated_messages = st.builds(
    lambda messages, ends: Attack(
        "mutated messages", tuple(frame(TEXT, json.dumps(m).encode()) for m in messages), ends=ends
    ),
    st.lists(mutated_recordings(), min_size=1, max_size=3),
    ends_of_attacks,
)


@st.composite
def trickles(draw: st.DrawFn) -> Attack:
    """Valid frames (a healthy answer, or its first part), one byte at a time with pauses."""
    messages = HEALTHY_ANSWER[: draw(st.integers(1, len(HEALTHY_ANSWER)))]
    pieces = one_byte_at_a_time(b"".join(text(m) for m in messages))
    return Attack("trickle", pieces, pause_s=draw(st.sampled_from([0.0, 0.0002])), ends=draw(ends_of_attacks))


silence = st.builds(lambda ends: Attack("nothing", (), ends=ends), ends_of_attacks)


def delayed(attacks: st.SearchStrategy[Attack]) -> st.SearchStrategy[Attack]:
    """The attack at once (with the opening) or 50 ms later (the client then waits in recv for the answer)."""
    return st.builds(dataclasses.replace, attacks, delay_s=st.sampled_from([0.0, 0.05]))


# Every kind gets its own examples: in one one_of, the kinds with more structure crowd out the rest.
ATTACK_KINDS: dict[str, st.SearchStrategy[Attack]] = {
    "random bytes": random_bytes,
    "text not UTF-8": invalid_utf8_text,
    "binary frame": binary_garbage,
    "binary JSON": binary_json,
    "huge declared": huge_declared,
    "fragments never finished": unfinished_fragments,
    "malformed close frame": bad_close_frames,
    "control frame": control_frames,
    "mutated messages": mutated_messages,
    "trickle": trickles(),
    "nothing": silence,
}

# --- the server -----------------------------------------------------------------------------------------------


def _handshake(conn: socket.socket) -> None:
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("client left during the handshake")
        request += chunk
    key = next(
        line.split(b":", 1)[1].strip().decode()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n".encode()
    )


def _drain(conn: socket.socket) -> None:
    """Read and forget what the client sends, until it ends_of_attacks (the client's frames are not our subject)."""
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def _end(conn: socket.socket, ends: str) -> None:
    if ends == "fin":
        conn.shutdown(socket.SHUT_WR)  # FIN after the data: the client reads everything, then EOF
    elif ends == "reset":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.shutdown(socket.SHUT_RD)  # wakes the drain thread; the close that follows sends RST
    # "hold": the drain thread keeps reading until the client ends_of_attacks


@contextmanager
def hostile_server(attack: Attack, open_turn: bool) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # trickled bytes go one by one
                _handshake(conn)
                drain = threading.Thread(target=_drain, args=(conn,), daemon=True)
                drain.start()
                conn.sendall(SESSION_CREATED + (SESSION_UPDATED if open_turn else b""))
                time.sleep(attack.delay_s)
                for piece in attack.pieces:
                    conn.sendall(piece)
                    if attack.pause_s:
                        time.sleep(attack.pause_s)
                _end(conn, attack.ends)
                drain.join(5)
            except OSError:
                pass  # the client hung up first: that is its right

    with serving(listener, serve) as url:
        yield url


@contextmanager
def serving(listener: socket.socket, serve: Callable[[], None], stop: threading.Event | None = None) -> Iterator[str]:
    """``serve`` in a thread, answering on ``listener``: the URL to connect to; then the listener closed (and
    ``stop`` set) and the thread joined."""
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}/v1/realtime"
    finally:
        if stop is not None:
            stop.set()
        listener.close()
        thread.join(5)


# --- the client -----------------------------------------------------------------------------------------------


def play(
    url: str,
    turn_timeout_s: float = TURN_TIMEOUT_S,
    prompt_s: float = 0.1,
    options: TransportOptions = OPTIONS,
    pumped: bool = False,
) -> tuple[SessionRecord, float]:
    """One real session (one turn, its prompt sent at once), in its own loop or ``pumped`` (``io/pump.py``); its
    record and how long the call took."""
    adapter = OpenAIRealtimeProtocol(RealtimeSettings())
    script = build_script([("p1", bytes(round(48_000 * prompt_s)))], 24_000, 20)
    settings = EngineSettings(turns=1, pace=Pace(None), think_time_s=0.0, turn_timeout_s=turn_timeout_s)
    started = time.monotonic()
    conversation = Conversation(script, settings, LABELS, now=started, counts=adapter.counts)
    sessions: list[SessionRecord] = []
    request = connect_request(url, "m", "key")
    pump = Pump() if pumped else None
    record = run_session(request, adapter, conversation, lambda turn: None, sessions.append, options, pump=pump)
    elapsed = time.monotonic() - started
    assert sessions == [record]
    return record, elapsed


def time_bound_s(attack: Attack) -> float:
    """What the timeouts allow: set-up and turn deadlines, the trickle itself, our close and its wait; x3 slack."""
    trickle_s = attack.delay_s + len(attack.pieces) * attack.pause_s
    return 3 * (OPTIONS.open_timeout_s + 2 * TURN_TIMEOUT_S + trickle_s + 2 * OPTIONS.close_timeout_s)


# --- properties -----------------------------------------------------------------------------------------------


def orderly(attack: Attack) -> bool:
    """Not a reset: an RST can overtake the bytes before it (the client's kernel drops what it had not read)."""
    return attack.ends != "reset"


@pytest.mark.parametrize("kind", ATTACK_KINDS)
@settings(max_examples=6)
@given(data=st.data(), open_turn=st.booleans(), pumped=st.booleans())
def test_a_hostile_server_never_makes_run_session_raise_or_hang(
    kind: str, data: st.DataObject, open_turn: bool, pumped: bool
) -> None:
    attack = data.draw(delayed(ATTACK_KINDS[kind]), label="attack")
    with hostile_server(attack, open_turn) as url:
        record, elapsed = play(url, pumped=pumped)
    event(f"{attack.ends}: {record.end_class}")  # pytest --hypothesis-show-statistics
    assert elapsed < time_bound_s(attack), f"{elapsed:.2f} s"
    if record.end_class is None:  # the bytes happened to answer the one turn (well or not): the script ended
        assert len(record.turns) == record.turns_planned and record.turns[0].response_status is not None
    else:
        assert record.end_class in TERMINAL_CODES, record.end_class


# Found by the fuzz: before the fix each raised InvalidState out of run_session (or, when the client had nothing
# left to send, waited for the turn deadline and reported the silent timeout.first_audio).
@pytest.mark.parametrize(
    "attack",
    [
        Attack("huge declared", (header(TEXT, 2**40),)),
        Attack("random bytes", (b"\x0f\x00",)),  # opcode 0xF does not exist: we fail the connection (1002)
        Attack("malformed close frame", (frame(CLOSE, b"\x03"),), delay_s=0.05),
    ],
    ids=["frame of 2**40 bytes", "opcode 0xF", "close frame of 1 byte"],
)
@pytest.mark.parametrize("pumped", [False, True], ids=["own loop", "pumped"])
def test_bytes_that_break_the_protocol_right_after_the_opening_are_protocol_unexpected(
    attack: Attack, pumped: bool
) -> None:
    with hostile_server(attack, open_turn=True) as url:
        record, _ = play(url, turn_timeout_s=10.0, pumped=pumped)
    assert record.end_class == "protocol.unexpected"
    assert record.close_reason is not None and record.close_reason.startswith("we closed: 100")


@settings(max_examples=15)
@given(delayed(huge_declared.filter(orderly)), st.booleans(), st.booleans())
def test_a_frame_declared_over_max_size_is_refused_with_1009_not_buffered(
    attack: Attack, open_turn: bool, pumped: bool
) -> None:
    with hostile_server(attack, open_turn) as url:
        record, elapsed = play(url, turn_timeout_s=10.0, pumped=pumped)
    assert record.end_class == "protocol.unexpected"
    assert record.close_reason is not None and "1009" in record.close_reason
    assert record.close_frame_received is False
    # Refused at the header: the session ends once our close times out (0.2 s), not at the 10 s turn timeout.
    assert elapsed < 5.0


@settings(max_examples=24)
@given(
    delayed(st.one_of(invalid_utf8_text, bad_close_frames, broken_control_frames, binary_garbage).filter(orderly)),
    st.booleans(),
    st.booleans(),
)
def test_frames_that_break_the_protocol_are_protocol_unexpected(attack: Attack, open_turn: bool, pumped: bool) -> None:
    with hostile_server(attack, open_turn) as url:
        record, _ = play(url, turn_timeout_s=10.0, pumped=pumped)  # long: on a busy machine no deadline may come first
    assert record.end_class == "protocol.unexpected", record.failure_detail


@settings(max_examples=4)
@given(st.sampled_from([0.0, 0.0005]), st.sampled_from(["hold", "fin"]), st.booleans())  # a reset may drop data
def test_a_healthy_answer_trickled_a_byte_at_a_time_still_completes(pause_s: float, ends: str, pumped: bool) -> None:
    pieces = one_byte_at_a_time(b"".join(text(m) for m in HEALTHY_ANSWER))
    with hostile_server(Attack("trickle", pieces, pause_s, ends), open_turn=True) as url:
        record, _ = play(url, turn_timeout_s=5.0, pumped=pumped)  # the trickle takes ~0.5 s: not a test of the deadline
    assert record.outcome == "completed" and record.turns[0].audio_bytes == len(AUDIO)


@settings(max_examples=6)
@given(ends_of_attacks, st.booleans(), st.booleans())
def test_silence_or_an_unfinished_message_is_a_timeout_or_a_drop(ends: str, fragment: bool, pumped: bool) -> None:
    pieces = (frame(TEXT, b'{"type": "resp', fin=False),) if fragment else ()
    with hostile_server(Attack("quiet", pieces, ends=ends), open_turn=True) as url:
        # A turn timeout long enough that a drop is always seen before the deadline.
        record, _ = play(url, turn_timeout_s=1.0, pumped=pumped)
    assert record.end_class == ("timeout.first_audio" if ends == "hold" else "transport.closed_no_frame")


@contextmanager
def deaf_server() -> Iterator[str]:
    """Opens the session, then never reads again (a wedged server or proxy): our socket buffer fills up."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # small: the buffers fill sooner
    listener.settimeout(5)
    stop = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError), listener.accept()[0] as conn:
            _handshake(conn)
            conn.sendall(SESSION_CREATED + SESSION_UPDATED)
            stop.wait(10)

    with serving(listener, serve, stop) as url:
        yield url


@pytest.mark.parametrize("pumped", [False, True], ids=["own loop", "pumped: handed back to its own loop"])
def test_a_server_that_stops_reading_cannot_block_a_send_for_ever(pumped: bool) -> None:
    # 60 s of prompt sent at once is ~4 MB of JSON: more than loopback buffers hold, so a send has to wait.
    options = dataclasses.replace(OPTIONS, send_timeout_s=0.3)
    with deaf_server() as url:
        record, elapsed = play(url, turn_timeout_s=0.3, prompt_s=60.0, options=options, pumped=pumped)
    assert record.end_class == "transport.closed_no_frame"
    assert record.close_reason == "we closed: the server read nothing for 0.3 s"
    assert elapsed < 5.0
