"""Worker → record owner: finished turns, finished sessions and the progress of open sessions, in batches.

``Outbox`` is the sending side (every process that runs users); ``Ledger`` is the receiving side (the master, or
the local runner delivering to itself). Neither touches Locust: ``hooks`` moves the batches, as Locust custom
messages between processes. A batch is plain JSON-safe data:

    {"turns": [TurnEvent lists], "sessions": [[key, SessionRecord dict]], "open": [[key, snapshot dict]],
     "users_started": n, "users_done": n, "sent_at": epoch seconds}

An open session's snapshot is its ``SessionRecord`` so far, without turns, re-sent after each of its turns. When a
worker is lost, the ledger turns its open snapshots into ``lost`` records: censored at the last report, counted.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, Protocol

from s2s_users.failures import FailureClass
from s2s_users.metrics.live import TurnEvent
from s2s_users.metrics.records import SessionRecord, TurnRecord


class HasSessionRecord(Protocol):
    def session_record(self) -> SessionRecord: ...


def _snapshot(record: SessionRecord) -> dict[str, Any]:
    data = dataclasses.replace(record, turns=()).to_dict()
    del data["turns"]
    return data


class Outbox:
    """What a user process has to tell the record owner since the last batch."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._keys = itertools.count(1)
        self._open: dict[str, HasSessionRecord] = {}
        self._dirty: set[str] = set()
        self._turns: list[list[Any]] = []
        self._sessions: list[list[Any]] = []
        self._users_started = 0
        self._users_done = 0

    def session_started(self, session: HasSessionRecord) -> str:
        """Register a session in progress; the key names it in every later batch."""
        key = str(next(self._keys))
        self._open[key] = session
        self._dirty.add(key)
        return key

    def turn_finished(self, key: str, model: str, turn: TurnRecord) -> None:
        self._turns.append(TurnEvent.of(model, turn).to_list())
        if key in self._open:
            self._dirty.add(key)

    def session_finished(self, key: str, record: SessionRecord) -> None:
        self._open.pop(key, None)
        self._dirty.discard(key)
        self._sessions.append([key, record.to_dict()])

    def user_started(self) -> None:
        self._users_started += 1

    def user_done(self) -> None:
        self._users_done += 1

    def take(self) -> dict[str, Any] | None:
        """The batch to send now, or None when there is nothing new."""
        if not (self._turns or self._sessions or self._dirty or self._users_started or self._users_done):
            return None
        batch = {
            "turns": self._turns,
            "sessions": self._sessions,
            "open": [[key, _snapshot(self._open[key].session_record())] for key in sorted(self._dirty)],
            "users_started": self._users_started,
            "users_done": self._users_done,
            "sent_at": self._clock(),
        }
        self._turns, self._sessions, self._dirty = [], [], set()
        self._users_started = self._users_done = 0
        return batch


class Ledger:
    """The record owner's account of every node: open sessions and users, so that nothing goes missing.

    Memory is bounded by the sessions open at one time (plus a bounded memory of lost keys).
    """

    def __init__(self, lost_memory: int = 100_000) -> None:
        self.open: dict[str, dict[str, dict[str, Any]]] = {}
        self.users_started: Counter[str] = Counter()
        self.users_done: Counter[str] = Counter()
        self.reported_at: dict[str, float] = {}
        self._lost: set[tuple[str, str]] = set()
        self._lost_order: deque[tuple[str, str]] = deque()
        self._lost_memory = lost_memory

    def receive(self, node: str, batch: dict[str, Any]) -> tuple[list[TurnEvent], list[SessionRecord], list[str]]:
        """Take a batch in; return its turn events, the session records to store, and warnings."""
        warnings: list[str] = []
        open_here = self.open.setdefault(node, {})
        self.reported_at[node] = float(batch.get("sent_at", time.time()))
        turns = [TurnEvent.from_list(item) for item in batch.get("turns", ())]
        records: list[SessionRecord] = []
        for key, data in batch.get("sessions", ()):
            open_here.pop(key, None)
            record = SessionRecord.from_dict(data)
            if (node, key) in self._lost:
                warnings.append(
                    f"session {record.session_id or key} from {node} arrived after its worker was counted as lost; "
                    "kept as lost"
                )
                continue
            records.append(record)
        for key, snapshot in batch.get("open", ()):
            open_here[key] = snapshot
        self.users_started[node] += int(batch.get("users_started", 0))
        self.users_done[node] += int(batch.get("users_done", 0))
        return turns, records, warnings

    def lose(self, node: str, reason: str) -> tuple[list[SessionRecord], int]:
        """Close the books of a node that is gone: its open sessions as ``lost`` records, and its unfinished users."""
        snapshots = self.open.pop(node, {})
        at = self.reported_at.get(node, time.time())
        records = []
        for key, snapshot in snapshots.items():
            self._remember_lost((node, key))
            base = SessionRecord.from_dict(snapshot)
            records.append(
                dataclasses.replace(
                    base,
                    ended_at=max(at, base.started_at),
                    # A failure seen before the worker died still counts; otherwise the session is censored.
                    outcome="failed" if base.failure_class else "lost",
                    end_class=FailureClass.WORKER_LOST.value,
                    close_reason=reason,
                )
            )
        unfinished = self.unfinished_users(node)
        self.users_done[node] += unfinished
        return records, unfinished

    def unfinished_users(self, node: str) -> int:
        return max(self.users_started[node] - self.users_done[node], 0)

    def open_count(self) -> int:
        return sum(len(sessions) for sessions in self.open.values())

    def open_snapshots(self) -> list[dict[str, Any]]:
        return [snapshot for sessions in self.open.values() for snapshot in sessions.values()]

    def _remember_lost(self, item: tuple[str, str]) -> None:
        self._lost.add(item)
        self._lost_order.append(item)
        while len(self._lost_order) > self._lost_memory:
            self._lost.discard(self._lost_order.popleft())
