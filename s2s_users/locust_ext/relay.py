"""Worker → record owner: finished turns, finished sessions and the progress of open sessions, in batches.

``Outbox`` is the sending side (every process that runs users); ``Ledger`` is the receiving side (the master, or
the local runner delivering to itself). Neither touches Locust: ``hooks`` moves the batches, as Locust custom
messages between processes. A ``Batch`` is typed here and plain JSON-safe data on the wire (``to_wire``).

An open session's progress is its ``SessionRecord`` so far, without turns (``Conversation.progress()``, cheap),
re-sent after each of its turns. A batch also carries how late the process sent its prompt chunks since the last
one (a ``LagHistogram``, merged per worker by the owner). When a worker is lost, the ledger turns its open sessions
into ``lost`` records: censored at the last report, counted.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.lag import LagHistogram
from s2s_users.core.metrics.live import TurnEvent
from s2s_users.core.metrics.records import SessionOutcome, SessionRecord, TurnRecord


class HasProgress(Protocol):
    def progress(self) -> SessionRecord: ...


@dataclass(frozen=True, slots=True)
class Batch:
    """What one user process tells the record owner at once. Session keys are unique within the process;
    ``run_id`` is the run the process's users play (a worker left over from an earlier run says so); ``worker`` its
    label (``worker-N``); ``pacing`` the lag of the chunks its users sent in turns that ended since the last batch;
    ``hot_path`` which hot path the process runs (``core/version.py``: ``compiled`` or ``pure``)."""

    run_id: str = ""
    worker: str = ""
    pacing: LagHistogram | None = None
    hot_path: str = ""
    turns: tuple[TurnEvent, ...] = ()
    sessions: tuple[tuple[str, SessionRecord], ...] = ()
    progress: tuple[tuple[str, SessionRecord], ...] = ()
    users_started: int = 0
    users_done: int = 0
    sent_at: float = 0.0

    def to_wire(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "worker": self.worker,
            "pacing": self.pacing.to_wire() if self.pacing else None,
            "hot_path": self.hot_path,
            "turns": [event.to_list() for event in self.turns],
            "sessions": [[key, record.to_dict()] for key, record in self.sessions],
            "open": [[key, _without_turns(record.to_dict())] for key, record in self.progress],
            "users_started": self.users_started,
            "users_done": self.users_done,
            "sent_at": self.sent_at,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Batch:
        return cls(
            run_id=str(data.get("run_id", "")),
            worker=str(data.get("worker", "")),
            pacing=LagHistogram.from_wire(data["pacing"]) if data.get("pacing") else None,
            hot_path=str(data.get("hot_path", "")),
            turns=tuple(TurnEvent.from_list(item) for item in data.get("turns", ())),
            sessions=tuple((str(key), SessionRecord.from_dict(item)) for key, item in data.get("sessions", ())),
            progress=tuple((str(key), SessionRecord.from_dict(item)) for key, item in data.get("open", ())),
            users_started=int(data.get("users_started", 0)),
            users_done=int(data.get("users_done", 0)),
            sent_at=float(data.get("sent_at", time.time())),
        )


def _without_turns(data: dict[str, Any]) -> dict[str, Any]:
    data.pop("turns", None)
    return data


class Outbox:
    """What a user process has to tell the record owner since the last batch."""

    def __init__(
        self, clock: Callable[[], float] = time.time, run_id: str = "", worker: str = "", hot_path: str = ""
    ) -> None:
        self._clock = clock
        self.run_id = run_id
        self.worker = worker
        self.hot_path = hot_path
        self._pacing = LagHistogram()
        self._keys = itertools.count(1)
        self._open: dict[str, HasProgress] = {}
        self._dirty: set[str] = set()
        self._turns: list[TurnEvent] = []
        self._sessions: list[tuple[str, SessionRecord]] = []
        self._users_started = 0
        self._users_done = 0

    def session_started(self, session: HasProgress) -> str:
        """Register a session in progress; the key names it in every later batch."""
        key = str(next(self._keys))
        self._open[key] = session
        self._dirty.add(key)
        return key

    def turn_finished(self, key: str, model: str, turn: TurnRecord, arm: str = "") -> None:
        self._turns.append(TurnEvent.of(model, turn, arm))
        if key in self._open:
            self._dirty.add(key)

    def session_finished(self, key: str, record: SessionRecord) -> None:
        self._open.pop(key, None)
        self._dirty.discard(key)
        self._sessions.append((key, record))

    def add_pacing(self, lags: LagHistogram) -> None:
        """Chunk lags of turns that ended (the process's histogram, taken since the last call)."""
        self._pacing.merge(lags)

    def user_started(self) -> None:
        self._users_started += 1

    def user_done(self) -> None:
        self._users_done += 1

    def take(self) -> Batch | None:
        """The batch to send now, or None when there is nothing new."""
        if not (
            self._turns or self._sessions or self._dirty or self._users_started or self._users_done or self._pacing
        ):
            return None
        batch = Batch(
            run_id=self.run_id,
            worker=self.worker,
            pacing=self._pacing.take() if self._pacing else None,
            hot_path=self.hot_path,
            turns=tuple(self._turns),
            sessions=tuple(self._sessions),
            progress=tuple((key, self._open[key].progress()) for key in sorted(self._dirty)),
            users_started=self._users_started,
            users_done=self._users_done,
            sent_at=self._clock(),
        )
        self._turns, self._sessions, self._dirty = [], [], set()
        self._users_started = self._users_done = 0
        return batch


OpenChange = Callable[[SessionRecord | None, SessionRecord | None], None]


class Ledger:
    """The record owner's account of every node: open sessions and users, so that nothing goes missing.

    Memory is bounded by the sessions open at one time (plus a bounded memory of lost keys).
    """

    def __init__(self, lost_memory: int = 100_000, on_open: OpenChange | None = None) -> None:
        """``on_open(old, new)`` hears of every change to the open sessions (``old`` or ``new`` None when one
        began or ended), so that views of them follow incrementally."""
        self._on_open = on_open or (lambda old, new: None)
        self.open: dict[str, dict[str, SessionRecord]] = {}
        self.users_started: Counter[str] = Counter()
        self.users_done: Counter[str] = Counter()
        self.reported_at: dict[str, float] = {}
        self._lost: set[tuple[str, str]] = set()
        self._lost_order: deque[tuple[str, str]] = deque()
        self._lost_memory = lost_memory

    def receive(self, node: str, batch: Batch) -> tuple[list[TurnEvent], list[SessionRecord], list[str]]:
        """Take a batch in; return its turn events, the session records to store, and warnings."""
        warnings: list[str] = []
        open_here = self.open.setdefault(node, {})
        self.reported_at[node] = batch.sent_at
        records: list[SessionRecord] = []
        for key, record in batch.sessions:
            if (old := open_here.pop(key, None)) is not None:
                self._on_open(old, None)
            if (node, key) in self._lost:
                warnings.append(
                    f"session {record.session_id or key} from {node} arrived after its worker was counted as lost; "
                    "kept as lost"
                )
                continue
            records.append(record)
        for key, progress in batch.progress:
            self._on_open(open_here.get(key), progress)
            open_here[key] = progress
        self.users_started[node] += batch.users_started
        self.users_done[node] += batch.users_done
        return list(batch.turns), records, warnings

    def lose(self, node: str, reason: str) -> tuple[list[SessionRecord], int]:
        """Close the books of a node that is gone: its open sessions as ``lost`` records, and its unfinished users."""
        progress = self.open.pop(node, {})
        at = self.reported_at.get(node, time.time())
        records = []
        for key, base in progress.items():
            self._on_open(base, None)
            self._remember_lost((node, key))
            records.append(
                dataclasses.replace(
                    base,
                    ended_at=max(at, base.started_at),
                    # A failure seen before the worker died still counts; otherwise the session is censored.
                    outcome=SessionOutcome.FAILED if base.failure_class else SessionOutcome.LOST,
                    end_class=FailureClass.WORKER_LOST,
                    close_reason=reason,
                    turns=(),
                )
            )
        unfinished = self.unfinished_users(node)
        self.users_done[node] += unfinished
        return records, unfinished

    def unfinished_users(self, node: str) -> int:
        return max(self.users_started[node] - self.users_done[node], 0)

    def open_count(self) -> int:
        return sum(len(sessions) for sessions in self.open.values())

    def open_sessions(self) -> list[SessionRecord]:
        """The progress of every session open now, on every node."""
        return [record for sessions in self.open.values() for record in sessions.values()]

    def _remember_lost(self, item: tuple[str, str]) -> None:
        self._lost.add(item)
        self._lost_order.append(item)
        while len(self._lost_order) > self._lost_memory:
            self._lost.discard(self._lost_order.popleft())
