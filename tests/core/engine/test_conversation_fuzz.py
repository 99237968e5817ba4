"""Property-based fuzzing of the turn engine: events in any order, timer ticks, drops, on a fake clock.

A real ``Conversation`` with the real OpenAI adapter and a small real ``Script`` is driven the way ``session.py``
drives it (``handle`` then ``on_timer`` for each event, ``on_timer`` when a deadline passes) with sequences a
server should never send: ``response.done`` before ``response.created``, audio after ``done``, errors anywhere,
``session.created`` twice. Properties: nothing escapes (no ``IllegalTransition``, no ``AssertionError``), the
session always finishes once its deadlines pass with no further events, within a bound the settings give, and
the finished record is consistent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from hypothesis import example, given, settings
from hypothesis import strategies as st

from s2s_users.core import events as ev
from s2s_users.core.engine.conversation import Conversation
from s2s_users.core.engine.pacing import Pace
from s2s_users.core.engine.script import Script, build_script
from s2s_users.core.engine.settings import EngineSettings
from s2s_users.core.engine.table import State
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.records import OUTCOMES, SessionLabels, SessionRecord, TurnRecord
from s2s_users.core.protocols.openai_realtime import OpenAIRealtimeProtocol, RealtimeSettings
from tests.support.server_messages import dumps, mutated_recordings, objects_with_known_types

LABELS = SessionLabels("run1", "gpt-realtime", "openai", "marin", "manual", "default", "local")
RATE = 24_000
CHUNK_MS = 20
LOUD = (b"\x00\x40" + b"\x00\xc0") * 1200  # 100 ms at -6 dBFS
CODES = frozenset(code.value for code in FailureClass)
CONFIG_EVENT_ID = "evt_s2s_1"  # the adapter numbers its events: the first one is our session.update


# --- what the engine is given ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    settings: EngineSettings
    script: Script

    @property
    def longest_turn_s(self) -> float:
        """Streaming the longest prompt (with its trailing silence), at the pace asked for."""
        chunks = max(len(prompt.chunks_b64) for prompt in self.script.prompts)
        speed = self.settings.pace.speed
        return 0.0 if speed is None else chunks * self.script.chunk_s / speed

    def time_bound_s(self) -> float:
        """From any moment, with no further events: set-up timeout, then every turn streams, times out, thinks."""
        s = self.settings
        per_turn = self.longest_turn_s + s.turn_timeout_s + s.think_time_s
        return s.turn_timeout_s + s.turns * per_turn + 1e-6

    def timer_bound(self) -> int:
        """How many deadlines can pass with no events: every chunk, every turn's timeout and think time."""
        chunks = max(len(prompt.chunks_b64) for prompt in self.script.prompts)
        return 2 + self.settings.turns * (chunks + 3)


@st.composite
def setups(draw: st.DrawFn) -> Setup:
    turn_mode = draw(st.sampled_from(["manual", "server_vad"]))
    silence_ms = draw(st.sampled_from([0, 40, 200])) if turn_mode == "server_vad" else 0
    # Prompts of 1 sample to 6 chunks: odd lengths leave a short last chunk.
    lengths = draw(st.lists(st.integers(1, 6 * RATE * CHUNK_MS // 1000), min_size=1, max_size=2))
    script = build_script([(f"p{i}", bytes(2 * n)) for i, n in enumerate(lengths)], RATE, CHUNK_MS, silence_ms)
    settings = EngineSettings(
        turns=draw(st.integers(1, 3)),
        turn_mode=turn_mode,
        pace=draw(st.sampled_from([Pace(None), Pace(1.0), Pace(4.0)])),
        think_time_s=draw(st.sampled_from([0.0, 0.1, 1.0])),
        turn_timeout_s=draw(st.sampled_from([0.5, 2.0, 30.0])),
    )
    return Setup(settings, script)


# --- what happens to it: events, messages, ticks, drops -------------------------------------------------------


@dataclass(frozen=True)
class Deliver:
    event: ev.Event


@dataclass(frozen=True)
class Receive:
    message: str


@dataclass(frozen=True)
class Tick:
    seconds: float


@dataclass(frozen=True)
class Drop:
    code: int | None
    reason: str
    frame_received: bool


@dataclass(frozen=True)
class Stop:
    pass


Step = Deliver | Receive | Tick | Drop | Stop

texts = st.text(max_size=12)
pcm = st.sampled_from([b"", LOUD, bytes(4800), b"\x01"]) | st.binary(max_size=64)
statuses = st.sampled_from(["completed", "completed", "failed", "incomplete", "cancelled", ""])
counts = st.integers(0, 2**53 - 1)
usages = st.builds(ev.Usage, *[counts] * 7)
events: st.SearchStrategy[ev.Event] = st.one_of(
    st.builds(ev.SessionCreated, texts),
    st.just(ev.SessionUpdated()),
    st.just(ev.SpeechStarted()),
    st.just(ev.SpeechStopped()),
    st.just(ev.InputCommitted()),
    st.builds(ev.ResponseCreated, texts),
    st.builds(ev.AudioDelta, pcm),
    st.builds(ev.TranscriptDelta, texts),
    st.builds(ev.TextDelta, texts),
    st.builds(
        ev.ResponseDone,
        response_id=texts,
        status=statuses | st.just("in_progress"),
        reason=st.none() | texts,
        error_type=st.none() | texts,
        error_code=st.none() | texts,
        error_message=st.none() | texts,
        usage=st.none() | usages,
    ),
    st.builds(
        ev.ServerError,
        code=st.sampled_from([None, "session_expired", "server_error", "conversation_already_has_active_response"]),
        type=st.none() | texts,
        message=texts,
        caused_by=st.sampled_from([None, CONFIG_EVENT_ID, "evt_s2s_9"]),
    ),
    st.builds(ev.ContextTruncated, st.sampled_from(["conversation.item.deleted", "conversation.item.truncated"])),
    st.builds(ev.GoingAway, st.none() | st.floats(0, 600)),
    st.builds(ev.UnknownEvent, texts),
    st.builds(ev.MalformedMessage, texts),
    st.builds(ev.Ignored, texts),
)
ticks = st.builds(Tick, st.sampled_from([0.0, 0.001, 0.02, 0.1, 0.5, 2.0, 31.0]) | st.floats(0, 40))
close_codes = st.none() | st.sampled_from([1000, 1001, 1006, 1011, 4000])
drops = st.builds(Drop, close_codes, texts | st.just("maximum duration reached"), st.booleans())
small_ticks = st.builds(Tick, st.sampled_from([0.0, 0.02, 0.1, 0.3]))


@st.composite
def responses(draw: st.DrawFn) -> list[Step]:
    """What a server says for one turn: in order, shuffled, with a piece missing or repeated."""
    audio = [Deliver(ev.AudioDelta(draw(pcm))) for _ in range(draw(st.integers(0, 3)))]
    done = ev.ResponseDone("r", draw(statuses), usage=draw(st.none() | usages))
    parts: list[Step] = [Deliver(ev.ResponseCreated("r")), *audio, Deliver(done)]
    match draw(st.sampled_from(["in order", "shuffled", "one missing", "one repeated"])):
        case "shuffled":
            parts = draw(st.permutations(parts))
        case "one missing":
            del parts[draw(st.integers(0, len(parts) - 1))]
        case "one repeated":
            parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(parts)))
    return [draw(small_ticks), *parts]


# Mostly responses, noise and short waits; now and then a step that ends the session (so that sessions run
# several turns before it comes).
server_like_steps = st.lists(
    st.sampled_from(
        [responses()] * 4
        + [st.builds(Deliver, events).map(lambda step: [step])] * 2
        + [small_ticks.map(lambda step: [step])] * 2
        + [(ticks | drops | st.just(Stop())).map(lambda step: [step])]
    ).flatmap(lambda strategy: strategy),
    max_size=12,
).map(lambda groups: [step for group in groups for step in group])

# The opening a healthy server sends: prepended (or not) so that sequences reach the turns.
OPENING: list[Step] = [Deliver(ev.SessionCreated("sess_1")), Deliver(ev.SessionUpdated())]
event_steps = st.lists(st.builds(Deliver, events) | ticks | drops | st.just(Stop()), max_size=40)
message_steps = st.lists(
    st.builds(Receive, (mutated_recordings() | objects_with_known_types()).map(dumps)) | ticks, max_size=30
)


# --- the driver: session.py's loop on a fake clock ------------------------------------------------------------


class Driver:
    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.now = 0.0
        self.adapter = OpenAIRealtimeProtocol(RealtimeSettings(turn_mode=setup.settings.turn_mode))
        self.conv = Conversation(
            setup.script, setup.settings, LABELS, now=0.0, wall_offset=1_000.0, counts=self.adapter.counts
        )
        self.reported: list[TurnRecord] = []
        self.record_at_finish: SessionRecord | None = None

    def step(self, step: Step) -> None:
        match step:
            case Deliver(event=event):
                self.conv.handle(event, self.now)
                self.conv.on_timer(self.now)
            case Receive(message=message):
                if self.conv.finished:  # session.py reads no more once the session is over
                    return
                self.adapter.receive_message(message)
                for event in self.adapter.events_received():
                    self.conv.handle(event, self.now)
                self.conv.on_timer(self.now)
            case Tick(seconds=seconds):
                self.now += seconds
                self.conv.on_timer(self.now)
            case Drop(code=code, reason=reason, frame_received=frame):
                if not self.conv.finished:  # session.py stops at the first end; a second one never comes
                    self.conv.on_connection_ended(code, reason, frame, self.now)
            case Stop():
                self.conv.on_stopped(self.now)
        self._after_step()

    def _after_step(self) -> None:
        for intent in self.conv.take_intents():
            self.adapter.apply(intent)
        self.adapter.messages_to_send()
        self.reported.extend(self.conv.take_new_turns())
        if self.conv.finished and self.record_at_finish is None:
            self.record_at_finish = self.conv.session_record()

    def run_out(self) -> None:
        """No more events: wake at every deadline, as ``session.py`` would, until the session finishes."""
        started = self.now
        for _ in range(self.setup.timer_bound()):
            if self.conv.finished:
                break
            deadline = self.conv.next_deadline()
            # None while unfinished means session.py would wait in recv() with no timeout: forever.
            assert deadline is not None, f"nothing to wait for in state {self.conv.state.value}"
            self.now = max(self.now, deadline)
            self.conv.on_timer(self.now)
            self._after_step()
        assert self.conv.finished, f"still {self.conv.state.value} after {self.setup.timer_bound()} deadlines"
        assert self.now - started <= self.setup.time_bound_s()


def play(setup: Setup, steps: list[Step]) -> SessionRecord:
    driver = Driver(setup)
    for step in steps:
        driver.step(step)
    driver.run_out()
    record = driver.conv.session_record()
    assert record == driver.record_at_finish, "events after the end changed the record (end states are sticky)"
    assert tuple(driver.reported) == record.turns, "live turn reports differ from the session record"
    assert_consistent(record, setup, driver.conv.state)
    return record


def assert_consistent(record: SessionRecord, setup: Setup, state: State) -> None:
    assert record.turns_planned == setup.settings.turns
    assert record.turns_completed <= record.turns_planned
    # Every response is recorded: the turns' own in order, and any the server started on its own between them.
    answers = [t for t in record.turns if t.solicited]
    assert [t.turn for t in answers] == list(range(1, len(answers) + 1))
    assert all(t.outcome == "ok" or t.outcome in CODES for t in record.turns)
    assert record.turns_completed == sum(t.outcome == "ok" for t in answers)
    assert record.unsolicited_responses == len(record.turns) - len(answers)
    # All audio counts: every response's, and audio of no live response (a straggler's).
    total = sum(t.assistant_audio_s for t in record.turns) + record.stray_audio_s
    assert math.isclose(record.assistant_audio_s, total, abs_tol=1e-3)
    assert record.capacity_to_failure_s <= record.assistant_audio_s
    assert record.capacity_to_failure_s <= record.capacity_to_silent_failure_s  # the first failure comes first
    assert record.capacity_to_silent_failure_s <= record.assistant_audio_s
    assert record.failure_class is None or record.failure_class in CODES
    assert record.end_class is None or record.end_class in CODES
    assert record.censored == (record.failure_class is None)
    assert record.silent_censored == (record.silent_failure_turn is None)
    assert record.outcome in OUTCOMES and (record.outcome == "failed") == (record.failure_class is not None)
    if state is State.DONE:
        assert len(answers) == record.turns_planned and record.end_class is None
    else:
        assert record.end_class is not None  # an early end always says why
    assert record.ended_at >= record.started_at
    if setup.settings.turn_mode == "manual":  # no answer can start before our commit and response.create
        assert all(t.ttfa_ms is None or t.ttfa_ms >= 0 for t in record.turns)
    assert SessionRecord.from_dict(json.loads(json.dumps(record.to_dict(), allow_nan=False))) == record


# --- properties -----------------------------------------------------------------------------------------------


@settings(max_examples=400)
@given(setups(), st.booleans(), event_steps)
@example(  # response.done before created, audio after done, session.created twice, an error mid-turn
    Setup(
        EngineSettings(turns=2, pace=Pace(None), think_time_s=0.0, turn_timeout_s=2.0),
        build_script([("p", bytes(960))], RATE, CHUNK_MS),
    ),
    True,
    [
        Deliver(ev.ResponseDone("r", "completed")),
        Deliver(ev.AudioDelta(LOUD)),
        Deliver(ev.SessionCreated("again")),
        Deliver(ev.ResponseCreated("r")),
        Deliver(ev.ServerError("server_error", None, "boom")),
        Deliver(ev.ResponseDone("r", "completed")),
        Deliver(ev.AudioDelta(LOUD)),
        Tick(0.5),
    ],
)
def test_any_order_of_events_and_ticks_ends_in_a_consistent_record(
    setup: Setup, opened: bool, steps: list[Step]
) -> None:
    play(setup, (OPENING if opened else []) + steps)


@settings(max_examples=400)
@given(setups(), server_like_steps)
def test_server_like_sequences_out_of_order_end_in_a_consistent_record(setup: Setup, steps: list[Step]) -> None:
    play(setup, OPENING + steps)


@settings(max_examples=150)
@given(setups(), st.booleans(), message_steps)
def test_mutated_server_messages_through_the_adapter_end_in_a_consistent_record(
    setup: Setup, opened: bool, steps: list[Step]
) -> None:
    play(setup, (OPENING if opened else []) + steps)


@settings(max_examples=100)
@given(setups())
def test_a_server_that_says_nothing_more_after_the_opening_times_out_every_turn_it_starts(setup: Setup) -> None:
    record = play(setup, OPENING)
    # The first turn streams its prompt, hears nothing, and the silent first-audio timeout ends the session.
    assert record.end_class == "timeout.first_audio" and record.failure_turn == 1
    assert [t.outcome for t in record.turns] == ["timeout.first_audio"]


@settings(max_examples=100)
@given(setups(), st.lists(st.sampled_from([ev.SessionUpdated(), ev.SpeechStarted(), ev.Ignored("x")]), max_size=5))
def test_a_server_that_never_creates_the_session_times_out_at_set_up(setup: Setup, noise: list[ev.Event]) -> None:
    record = play(setup, [Deliver(event) for event in noise])
    assert record.end_class == "timeout.first_audio" and record.turns == () and record.failure_turn == 0
    assert math.isclose(record.ended_at - record.started_at, setup.settings.turn_timeout_s, abs_tol=1e-6)


def test_a_straggling_delta_before_the_next_commit_neither_masks_zero_audio_nor_counts_as_first_audio() -> None:
    """Manual mode: audio that arrives while the next prompt streams belongs to no answer of that turn."""
    setup = Setup(
        EngineSettings(turns=2, pace=Pace(1.0), think_time_s=0.0, turn_timeout_s=2.0),
        build_script([("p", bytes(2 * 2400))], RATE, CHUNK_MS),  # 100 ms: five chunks, streamed for 80 ms
    )
    answer = [
        Deliver(ev.ResponseCreated("r1")),
        Deliver(ev.AudioDelta(LOUD)),
        Deliver(ev.ResponseDone("r1", "completed")),
    ]
    straggler = [Tick(0.02), Deliver(ev.AudioDelta(LOUD))]  # turn 2 is streaming its prompt
    zero_audio = [Tick(0.1), Deliver(ev.ResponseCreated("r2")), Deliver(ev.ResponseDone("r2", "completed"))]
    record = play(setup, [*OPENING, Tick(0.1), *answer, *straggler, *zero_audio])
    assert [t.outcome for t in record.turns] == ["ok", "response.zero_audio"]
    assert record.turns[1].audio_bytes == 0 and record.silent_failure_turn == 2
