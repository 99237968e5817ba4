"""One greenlet drives the open connections of a process between their handshakes and their closes.

Why: a session in its own greenlet wakes 50 times a second at 20 ms chunks, and each wake costs a timer and a
watcher armed and dropped, two greenlet switches and a turn of the hub's loop, for a few microseconds of work.
Here every connection keeps one I/O watcher for its life, one timer serves the nearest deadline of them all, and a
turn of the hub's loop serves every connection that is readable or due in it, with one switch. The work per wake
is the same code as the session's own loop (``session.py``): what is sent, heard and timed does not change, only
who waits.

The session's greenlet keeps everything else: connecting, reconnecting, closing and the exception boundary. It
hands its open connection over (``Pump.drive``) and waits; what ends the pump's part (the conversation finished
or lets the connection go, or an error, which is raised in the session's greenlet as if its own loop had met it)
wakes it. A connection the pump cannot serve without waiting (its socket's buffer is full, a closing handshake
has begun, a pong is overdue) is handed back to the session's greenlet, whose own loop goes on from there. A
session killed while it waits (Locust stopping its user) is dropped from the pump first. On turns of the hub's
loop: a connection due again at once waits for the next, so the hub (Locust's own greenlets, the web UI) always
gets its turn.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import AsyncResult
from gevent.hub import get_hub

from s2s_users.core.engine.conversation import Conversation
from s2s_users.io.transport import WebSocket

Clock = Callable[[], float]


class HandBack(Exception):
    """The pump's part ended with the connection still open and the conversation going on: the session's own
    loop continues it (the pump would have to wait in its place)."""


class Connection:
    """One driven connection: its socket, its conversation, its two moves (``step``: send what is due and report
    ended turns, giving the next deadline; ``hear``: one message in), its watcher and place in the deadlines."""

    __slots__ = ("ws", "conversation", "step", "hear", "result", "watcher", "deadline", "wake", "seen_at")

    def __init__(
        self,
        ws: WebSocket,
        conversation: Conversation,
        step: Callable[[], float | None],
        hear: Callable[[str, float], None],
    ) -> None:
        self.ws = ws
        self.conversation = conversation
        self.step = step
        self.hear = hear
        self.result: AsyncResult = AsyncResult()
        self.watcher: Any = None
        self.deadline: float | None = None  # the conversation's, from the last step
        self.wake: float | None = None  # the nearest of it and the keepalive's: its key in the pump's heap
        self.seen_at = -math.inf  # the latest time the conversation was given: its time never goes back


class Pump:
    """The drive loops of a process's connections, in one greenlet (started with the first, gone with the last)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._hub = get_hub()
        self._loop = self._hub.loop
        self._greenlet: gevent.Greenlet | None = None
        self._ready: list[Connection] = []
        self._heap: list[tuple[float, int, Connection]] = []
        self._count = 0
        self._connections: set[Connection] = set()
        self._resume_due = False
        self._timer: Any = None
        self._timer_at: float | None = None
        self._parked = False  # switched in only from here: not while some call it made waits in gevent

    @property
    def driving(self) -> int:
        """How many connections it drives now."""
        return len(self._connections)

    # --- the session's side -----------------------------------------------------------------------------

    def drive(self, connection: Connection) -> None:
        """Drive ``connection`` until its conversation finishes or lets it go; raises what ended it otherwise."""
        ws = connection.ws
        ws.go_nonblocking()
        connection.watcher = self._loop.io(ws.fileno(), 1)
        connection.watcher.start(self._readable, connection)
        self._connections.add(connection)
        try:
            connection.deadline = connection.step()
            self._schedule(connection)
            if ws.has_messages():  # read with the handshake's response: the socket does not say so again
                self._ready.append(connection)
            if self._greenlet is None:
                self._greenlet = gevent.spawn(self._run)
            else:
                self._resume()
            connection.result.get()
        finally:
            self._drop(connection)

    def _drop(self, connection: Connection) -> None:
        if connection in self._connections:
            self._connections.discard(connection)
            connection.watcher.stop()
            connection.watcher.close()

    # --- the pump's greenlet ----------------------------------------------------------------------------

    def _readable(self, connection: Connection) -> None:  # in the hub: note it, and wake the pump once
        self._ready.append(connection)
        self._resume()

    def _resume(self) -> None:
        if not self._resume_due:
            self._resume_due = True
            self._loop.run_callback(self._switch_in)

    def _switch_in(self) -> None:
        greenlet = self._greenlet
        if self._parked and greenlet is not None:
            greenlet.switch()
        else:
            self._resume_due = False

    def _schedule(self, connection: Connection) -> None:
        wake = connection.ws.next_wake(connection.deadline)
        if wake is not None and wake != connection.wake:  # an entry for an unchanged wake is in the heap already
            self._count += 1
            heapq.heappush(self._heap, (wake, self._count, connection))
        connection.wake = wake  # entries for other wakes are stale: skipped when they come up

    def _run(self) -> None:
        try:
            while self._connections:
                self._resume_due = False
                self._serve()
                self._park()
        except BaseException as exc:
            # A bug here, or the greenlet killed: every session it drove ends with it rather than hang.
            for connection in list(self._connections):
                self._finish(connection, exc)
            raise
        finally:
            self._greenlet = None
            if self._timer is not None:
                self._timer.close()
                self._timer = None

    def _serve(self) -> None:
        clock, driven = self._clock, self._connections
        ready, self._ready = self._ready, []
        for connection in ready:
            if connection in driven:
                self._advance(connection, clock(), True)
        heap = self._heap
        now = clock()
        due = []
        while heap and heap[0][0] <= now:
            wake, _, connection = heapq.heappop(heap)
            if connection in driven and connection.wake == wake:
                connection.wake = None
                due.append(connection)
        # What comes due again at once waits for the next pass: the hub's loop turns in between, whatever happens.
        # Each is timed when its turn in the pass comes, not when the pass began: a chunk sent after twenty others
        # is as late as that (its pacing lag), and so is a commit (where its TTFA starts).
        for connection in due:
            if connection in driven:
                self._advance(connection, clock(), False)

    def _park(self) -> None:
        heap = self._heap
        while heap and heap[0][2] not in self._connections:
            heapq.heappop(heap)
        if self._ready:
            return
        if heap:
            at = heap[0][0]
            if self._timer is None or not self._timer.active or self._timer_at != at:
                if self._timer is not None:
                    self._timer.close()
                self._timer = self._loop.timer(max(at - self._clock(), 0.0))
                self._timer.start(self._resume)
                self._timer_at = at
        self._parked = True
        try:
            self._hub.switch()
        finally:
            self._parked = False

    def _advance(self, connection: Connection, now: float, readable: bool) -> None:
        """One wake of one connection, as its own loop has it (``session._drive``): each message heard, the timer
        when due, then a step; until no message is left."""
        ws, conversation = connection.ws, connection.conversation
        try:
            if readable:
                ws.read_now()
            ws.keep_alive(now)
            if ws.must_wait(now):
                raise HandBack()
            message = ws.message_now()
            deadline = connection.deadline
            due = deadline is not None and now >= deadline
            if message is None and not due:
                self._schedule(connection)  # a wake for the keepalive, or part of a frame
                return
            while True:
                if message is not None:
                    # Heard when it reached this machine (the kernel's stamp), not when this pass came to it.
                    heard_at = connection.seen_at = ws.arrival(now, connection.seen_at)
                    connection.hear(message, heard_at)
                if message is None or due:
                    conversation.on_timer(now)
                    connection.seen_at = now
                if conversation.finished or conversation.awaiting_connection:
                    self._finish(connection, None)
                    return
                deadline = connection.step()
                now = self._clock()
                if ws.must_wait(now):
                    raise HandBack()
                message = ws.message_now()
                if message is None:
                    break
                due = deadline is not None and now >= deadline
            connection.deadline = deadline
        except BaseException as exc:  # noqa: BLE001 - raised again in the session's greenlet
            self._finish(connection, exc)
            return
        self._schedule(connection)

    def _finish(self, connection: Connection, exc: BaseException | None) -> None:
        self._drop(connection)
        if exc is None:
            connection.result.set(None)
        else:
            connection.result.set_exception(exc)
