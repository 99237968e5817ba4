"""The batches between user processes and the record owner: nothing is lost, a dead worker's sessions are counted."""

from __future__ import annotations

import dataclasses
import json

from s2s_users.core.metrics.lag import LagHistogram
from s2s_users.core.metrics.live import LiveView
from s2s_users.core.metrics.records import SessionRecord
from s2s_users.locust_ext.relay import Batch, Ledger, Outbox
from tests.support.records import T0
from tests.support.records import session as make_session
from tests.support.records import turn as make_turn


@dataclasses.dataclass
class FakeSession:
    """A session in progress, as the outbox sees a Conversation."""

    record: SessionRecord

    def progress(self) -> SessionRecord:
        return self.record


def _wire(batch: Batch | None) -> Batch:
    assert batch is not None
    return Batch.from_wire(json.loads(json.dumps(batch.to_wire())))  # a custom message carries plain JSON data


def test_an_empty_outbox_sends_nothing() -> None:
    assert Outbox().take() is None


def test_finished_sessions_reach_the_ledger_exactly_once_and_close_their_open_entry() -> None:
    outbox, ledger = Outbox(clock=lambda: T0), Ledger()
    finished = make_session("s-1", turns=2)
    key = outbox.session_started(FakeSession(dataclasses.replace(finished, turns=())))
    outbox.user_started()
    _, records, _ = ledger.receive("w1", _wire(outbox.take()))
    assert records == [] and ledger.open_count() == 1 and [o.model for o in ledger.open_sessions()] == ["gpt-realtime"]

    for turn in finished.turns:
        outbox.turn_finished(key, finished.model, turn)
    outbox.session_finished(key, finished)
    outbox.user_done()
    turns, records, warnings = ledger.receive("w1", _wire(outbox.take()))
    assert [t.started_at for t in turns] == [t.started_at for t in finished.turns]
    assert records == [finished] and warnings == []
    assert ledger.open_count() == 0 and ledger.unfinished_users("w1") == 0
    assert outbox.take() is None


def test_a_lost_worker_turns_its_open_sessions_into_censored_lost_records() -> None:
    outbox, ledger = Outbox(clock=lambda: T0 + 30), Ledger()
    so_far = make_session("s-open", turns=2, ended_at=T0, outcome="completed", end_class=None)
    outbox.session_started(FakeSession(so_far))
    outbox.user_started()
    outbox.user_started()
    ledger.receive("w1", _wire(outbox.take()))

    records, unfinished = ledger.lose("w1", "the worker stopped sending heartbeats")
    (lost,) = records
    assert lost.outcome == "lost" and lost.end_class == "harness.worker_lost"
    assert lost.silent_censored and lost.censored and lost.turns_completed == 2
    assert lost.capacity_to_silent_failure_s == so_far.capacity_to_silent_failure_s
    assert lost.ended_at == T0 + 30 and lost.turns == ()
    assert unfinished == 2 and ledger.unfinished_users("w1") == 0 and ledger.open_count() == 0


def test_a_failure_seen_before_the_worker_died_still_counts() -> None:
    outbox, ledger = Outbox(), Ledger()
    failing = make_session(
        "s-f", outcome="failed", failure_class="response.zero_audio", failure_turn=2, silent_failure_turn=2,
        capacity_to_silent_failure_s=7.0, silent_censored=False,
    )  # fmt: skip
    outbox.session_started(FakeSession(failing))
    ledger.receive("w1", _wire(outbox.take()))
    (lost,) = ledger.lose("w1", "gone")[0]
    assert lost.outcome == "failed" and lost.failure_class == "response.zero_audio" and not lost.silent_censored


def test_a_record_arriving_after_its_worker_was_counted_lost_is_not_stored_twice() -> None:
    outbox, ledger = Outbox(), Ledger()
    finished = make_session("s-late")
    key = outbox.session_started(FakeSession(finished))
    ledger.receive("w1", _wire(outbox.take()))
    ledger.lose("w1", "gone")
    outbox.session_finished(key, finished)
    _, records, warnings = ledger.receive("w1", _wire(outbox.take()))
    assert records == [] and len(warnings) == 1 and "kept as lost" in warnings[0]


def test_open_snapshots_are_resent_only_after_a_turn() -> None:
    outbox = Outbox()
    key = outbox.session_started(FakeSession(make_session("s-1")))
    assert len(_wire(outbox.take()).progress) == 1
    outbox.turn_finished(key, "gpt-realtime", make_turn(0))
    batch = _wire(outbox.take())
    assert len(batch.progress) == 1 and len(batch.turns) == 1
    assert outbox.take() is None


def test_a_batch_carries_the_chunk_lags_of_its_worker_and_nothing_twice() -> None:
    outbox = Outbox(run_id="run-1", worker="worker-3")
    lags = LagHistogram()
    for lag in (0.0002, 0.004, 0.031):
        lags.add(lag)
    outbox.add_pacing(lags.take())
    batch = _wire(outbox.take())  # chunk lags alone are worth a batch
    assert batch.worker == "worker-3" and batch.pacing is not None
    assert batch.pacing.count == 3 and batch.pacing.max_s == 0.031
    assert outbox.take() is None
    outbox.add_pacing(lags)  # empty: nothing new
    assert outbox.take() is None


def test_the_live_view_follows_the_ledgers_open_sessions_change_by_change() -> None:
    """The master's view of open sessions is kept by each batch's changes; it must equal a full recount."""
    live = LiveView()
    ledger, outbox = Ledger(on_open=live.replace_open), Outbox(clock=lambda: T0)
    sessions = {n: FakeSession(make_session(f"s-{n}", turns=n, capacity_to_silent_failure_s=3.0 * n)) for n in (1, 2)}
    keys = {n: outbox.session_started(session) for n, session in sessions.items()}
    ledger.receive("w1", _wire(outbox.take()))
    sessions[2].record = make_session("s-2", turns=3, capacity_to_silent_failure_s=9.0)  # a turn later
    outbox.turn_finished(keys[2], "gpt-realtime", make_turn(3))
    outbox.session_finished(keys[1], make_session("s-1", turns=1))
    ledger.receive("w1", _wire(outbox.take()))
    recount = LiveView()
    recount.set_open(ledger.open_sessions())
    row, expected = live.models["gpt-realtime"], recount.models["gpt-realtime"]
    assert (row.active, row.open_capacity) == (expected.active, expected.open_capacity) == (1, {9.0: [0, 1]})
    ledger.lose("w1", "gone")
    assert live.models["gpt-realtime"].active == 0 and live.models["gpt-realtime"].open_capacity == {}


def test_a_batch_says_which_hot_path_its_process_runs() -> None:
    outbox = Outbox(worker="worker-1", hot_path="compiled")
    outbox.user_started()
    assert _wire(outbox.take()).hot_path == "compiled"
