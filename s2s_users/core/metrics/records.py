"""Per-turn and per-session records: frozen dataclasses with a stable JSON shape.

These are what ``sessions.jsonl`` holds (one ``SessionRecord.to_dict()`` per line), what workers ship to the
master, what InfluxDB points and reports are computed from. In memory a record carries typed values (its labels
as one ``SessionLabels``, taxonomy codes as ``FailureClass``, token usage as ``Usage``); on disk and on the wire the
shape stays flat, as it always was. Add fields with defaults so old files still load.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, Literal

from s2s_users.core.events import Usage
from s2s_users.core.failures import FailureClass

#: The file of a run folder that holds one ``SessionRecord`` per line.
SESSIONS_FILE = "sessions.jsonl"

#: The outcome of a turn that ended well.
OK: Literal["ok"] = "ok"
TurnOutcome = FailureClass | Literal["ok"]


class SessionOutcome(enum.StrEnum):
    """How a session ended. ``expired`` (the provider's cap) and ``stopped`` (the run's end) are censored;
    ``lost`` is a session whose worker died, censored at the worker's last report; ``bounded`` is a session of
    ``--turns until-failure`` that reached a safety bound (``--max-session-minutes`` / ``--max-session-turns``)
    without a failure: censored there, as a completed script is, but saying the bound ended it."""

    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    EXPIRED = "expired"
    LOST = "lost"
    BOUNDED = "bounded"


OUTCOMES = tuple(outcome.value for outcome in SessionOutcome)
_USAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Usage))


class UnknownCode(ValueError):
    """A record holds a taxonomy code this version does not know (a file written by a newer version)."""


def turn_outcome(value: str) -> TurnOutcome:
    return OK if value == OK else failure_code(value)


def failure_code(value: str) -> FailureClass:
    try:
        return FailureClass(value)
    except ValueError:
        raise UnknownCode(f"unknown failure class {value!r}: written by a newer s2s_users?") from None


def _optional_code(value: Any) -> FailureClass | None:
    return None if value is None else failure_code(str(value))


@dataclass(frozen=True, slots=True)
class SessionLabels:
    """What a session's records are grouped by (InfluxDB tags, report rows): low cardinality only."""

    run_id: str
    model: str
    provider: str
    voice: str
    turn_mode: str
    scenario: str
    worker: str
    arm: str = ""
    """The A/B arm (``control`` or ``rotated`` with ``--ab-rotate-after``); empty without one."""

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionLabels:
        return cls(**{name: str(data.get(name, "")) for name in _LABEL_FIELDS})


_LABEL_FIELDS = tuple(f.name for f in dataclasses.fields(SessionLabels))


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One turn: the user's prompt went in, and what came back.

    Times are milliseconds from the end of the user's audio (commit in manual mode, last prompt chunk in
    server-VAD mode). ``outcome`` is ``"ok"`` or a ``FailureClass``.
    """

    turn: int
    prompt_id: str
    outcome: TurnOutcome
    input_audio_s: float
    assistant_audio_s: float
    audio_bytes: int
    ttfa_ms: float | None
    response_ms: float | None
    pacing_lag_ms: float
    started_at: float
    response_status: str | None = None
    detail: str | None = None
    peak_dbfs: float | None = None
    transcript_chars: int = 0
    text_chars: int = 0
    context_truncated: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    cached_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0
    ended_at: float | None = None
    """When the turn ended (epoch seconds): its response's end, or the failure that ended it."""
    solicited: bool = True
    """False for a response the server started on its own (``unsolicited_reason`` says why it is thought to have)."""
    unsolicited_reason: str | None = None
    response_id: str | None = None
    audible_ms: float | None = None
    """From the same start as ``ttfa_ms`` to the first sample a caller hears (over the silence floor)."""
    leading_silence_ms: float | None = None
    """Silence before the first audible sample of the response."""
    endpointing_ms: float | None = None
    """Server VAD: from the end of the prompt's speech to the server's speech_stopped."""
    barge_in: bool = False
    """We spoke over this answer (the next prompt started while it streamed)."""
    stop_latency_ms: float | None = None
    """After a barge-in: from our speech starting to the last audio the server still sent."""
    audio_after_barge_in_s: float | None = None
    truncated_at_ms: int | None = None
    """Where the server said it cut the answer (conversation.item.truncated audio_end_ms), if it did."""
    after_rotation: bool = False
    """The first turn of a fresh provider session after a rotation (or a reconnect at the provider's cap)."""
    session_audio_s: float = 0.0
    """Assistant audio in the current provider session's context after this turn: the early-warning signal."""
    cost_usd: float | None = None
    """This response's estimated cost, from its usage and the price table (None: the model has no price)."""

    @property
    def usage(self) -> Usage:
        """The response's token usage (kept flat in the record, so files keep their shape)."""
        return Usage(**{name: getattr(self, name) for name in _USAGE_FIELDS})

    @staticmethod
    def usage_fields(usage: Usage) -> dict[str, int]:
        """``usage`` as the record's keyword arguments."""
        return dataclasses.asdict(usage)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["outcome"] = str(self.outcome)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnRecord:
        known = _known_fields(cls, data)
        known["outcome"] = turn_outcome(str(data["outcome"]))
        return cls(**known)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One realtime session from connect to end.

    ``capacity_to_failure_s`` is the assistant audio accumulated before the first failing turn (all of it,
    and ``censored`` True, when no failure happened); ``capacity_to_silent_failure_s`` is the same measured to
    the first *silent* failure, censored when there was none. ``failure_class`` is the first failure;
    ``end_class`` is what ended the session (they differ in the seed's case: a zero-audio turn, then a drop).
    ``http_status`` is the handshake's answer when the server refused the session.
    """

    session_id: str
    labels: SessionLabels
    started_at: float
    ended_at: float
    turns_planned: int
    turns_completed: int
    assistant_audio_s: float
    capacity_to_failure_s: float
    censored: bool
    capacity_to_silent_failure_s: float
    silent_censored: bool
    outcome: SessionOutcome
    failure_class: FailureClass | None
    failure_turn: int | None
    failure_detail: str | None
    silent_failure_turn: int | None
    visible_failure_turn: int | None
    end_class: FailureClass | None
    close_code: int | None
    close_reason: str | None
    close_frame_received: bool | None
    context_truncations: int = 0
    legacy_events: int = 0
    unknown_events: dict[str, int] = field(default_factory=dict)
    estimated_cost_usd: float = 0.0
    priced: bool = True
    """False when the price table had no price for the model: ``estimated_cost_usd`` is then not an estimate."""
    http_status: int | None = None
    unsolicited_responses: int = 0
    unsolicited_reasons: dict[str, int] = field(default_factory=dict)
    stray_audio_s: float = 0.0
    """Assistant audio of no live response (a straggler after its response.done); counted in the totals."""
    barge_ins: int = 0
    reconnects: int = 0
    """New connections the conversation went on over after the server announced its end (Gemini resumption)."""
    rotations: int = 0
    """Fresh provider sessions this conversation moved to by ``--rotate-after`` (never a failure)."""
    cap_reconnects: int = 0
    """Fresh provider sessions after the provider's cap ended one (``--reconnect-on-cap``)."""
    provider_session_ids: tuple[str, ...] = ()
    """Every provider session this logical conversation was made of, in order (``session_id`` is the first)."""
    reinjected_chars: int = 0
    """Summary text re-injected into fresh sessions after rotations."""
    warning_turn: int | None = None
    """The turn after which the early warning fired (``capacity.warning``): the session passed its share of the
    expected capacity; None if it never did."""
    warning_audio_s: float | None = None
    evidence: tuple[str, ...] = ()
    """Files kept of the session (its wire trail, WAVs of its turns), relative to the run folder."""
    evidence_note: str | None = None
    """Why evidence the session called for was not (all) written: the audio budget, a full disk."""
    turns: tuple[TurnRecord, ...] = ()

    # The labels, read as the record's own fields (as they are stored).
    @property
    def run_id(self) -> str:
        return self.labels.run_id

    @property
    def model(self) -> str:
        return self.labels.model

    @property
    def provider(self) -> str:
        return self.labels.provider

    @property
    def voice(self) -> str:
        return self.labels.voice

    @property
    def turn_mode(self) -> str:
        return self.labels.turn_mode

    @property
    def scenario(self) -> str:
        return self.labels.scenario

    @property
    def worker(self) -> str:
        return self.labels.worker

    @property
    def arm(self) -> str:
        return self.labels.arm

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"session_id": self.session_id, **self.labels.to_dict()}
        for f in dataclasses.fields(self):
            if f.name not in ("session_id", "labels", "turns"):
                data[f.name] = getattr(self, f.name)
        for key in ("outcome", "failure_class", "end_class"):
            data[key] = None if data[key] is None else str(data[key])
        data["unknown_events"] = dict(self.unknown_events)
        data["unsolicited_reasons"] = dict(self.unsolicited_reasons)
        data["provider_session_ids"] = list(self.provider_session_ids)
        data["evidence"] = list(self.evidence)
        data["turns"] = [turn.to_dict() for turn in self.turns]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionRecord:
        known = _known_fields(cls, data)
        known["labels"] = SessionLabels.from_dict(data)
        known["outcome"] = SessionOutcome(str(data["outcome"]))
        known["failure_class"] = _optional_code(data.get("failure_class"))
        known["end_class"] = _optional_code(data.get("end_class"))
        known["evidence"] = tuple(str(path) for path in data.get("evidence", ()))
        known["turns"] = tuple(TurnRecord.from_dict(turn) for turn in data.get("turns", ()))
        known["provider_session_ids"] = tuple(str(i) for i in data.get("provider_session_ids", ()))
        return cls(**known)


def _known_fields(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    # Unknown keys are dropped so that files written by newer versions still load.
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in data.items() if key in names}
