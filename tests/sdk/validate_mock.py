"""Check the mock against the official ``openai`` SDK's own types (runs in the separate SDK venv, .venv-sdk).

Usage: ``python tests/sdk/validate_mock.py ws://127.0.0.1:PORT/v1/realtime [--api-key mock-key]``

The script never imports s2s_users: it talks to an already running mock through ``AsyncOpenAI.realtime.connect``,
plays manual turns, error cases, a cancel and a server-VAD turn, and validates every raw server event strictly
against the SDK's ``RealtimeServerEvent`` union (pydantic strict mode), plus a recursive check that no field is
unknown to the SDK models (``model_extra`` empty everywhere). The last line of stdout is a JSON summary
``{"validated": N, "failures": K, "types": [...], "counts": {...}, "sdk": "x.y.z"}``; failures are printed before
it as ``FAIL <event type>: <error>`` and the exit code is 1 if there are any.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import json
import math
import random
import sys
import typing
import urllib.parse
from collections import Counter
from collections.abc import Callable
from typing import Any

import openai
import pydantic
from openai import AsyncOpenAI
from openai.types.realtime import RealtimeServerEvent, RealtimeSessionCreateResponse

RATE = 24_000
EVENT_TIMEOUT_S = 30.0
SERVER_EVENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeServerEvent)


def _event_models() -> dict[str, type[pydantic.BaseModel]]:
    """The union's members by their ``type`` literal (the SDK discriminates on it)."""
    union = typing.get_args(RealtimeServerEvent)[0]
    models: dict[str, type[pydantic.BaseModel]] = {}
    for model in typing.get_args(union):
        for literal in typing.get_args(model.model_fields["type"].annotation):
            models[literal] = model
    return models


EVENT_MODELS = _event_models()

# One known gap in the SDK's types: session.created/updated type ``session`` as the *request* model
# (RealtimeSessionCreateRequest), which lacks the server-assigned ``id``, ``object`` and ``expires_at`` that the
# live service sends (and that clients read: s2s_users takes the session id from session.created). The SDK's own
# RealtimeSessionCreateResponse declares them, so for these events the session object must ALSO validate strictly
# against that model, and a field counts as unknown only if neither model declares it.
SESSION_EVENTS = ("session.created", "session.updated")
SESSION_RESPONSE_FIELDS = frozenset(RealtimeSessionCreateResponse.model_fields)


def describe(error: pydantic.ValidationError) -> str:
    """The errors of a failed validation, without those of union branches whose tag (type/role) did not match."""
    errors = error.errors(include_url=False)
    dead = {
        tuple(e["loc"][:-1])
        for e in errors
        if e["type"] == "literal_error" and len(e["loc"]) >= 2 and e["loc"][-1] in ("type", "role")
        and str(e["loc"][-2])[:1].isupper()
    }  # fmt: skip
    kept = [e for e in errors if not any(tuple(e["loc"][: len(d)]) == d for d in dead)] or errors
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']} (input {e['input']!r:.100})" for e in kept
    )


def unknown_fields(value: object, path: str) -> list[str]:
    """Dotted paths of every field the SDK models do not declare (they land in ``model_extra``)."""
    found: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        found += [f"{path}.{key}" for key in value.model_extra or {}]
        for name in type(value).model_fields:
            found += unknown_fields(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += unknown_fields(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += unknown_fields(item, f"{path}.{key}")
    return found


def pcm16(samples: list[int]) -> bytes:
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


def noise(seconds: float, amplitude: int, rng: random.Random) -> bytes:
    """Quiet white noise (below any VAD threshold when amplitude is small)."""
    return pcm16([rng.randint(-amplitude, amplitude) for _ in range(round(seconds * RATE))])


def voice_like(seconds: float) -> bytes:
    """A loud 180 Hz tone, far above a VAD threshold."""
    count = round(seconds * RATE)
    return pcm16([round(8000 * math.sin(2 * math.pi * 180 * i / RATE)) for i in range(count)])


def chunks(pcm: bytes, ms: int = 100) -> list[str]:
    step = RATE * ms // 1000 * 2
    return [base64.b64encode(pcm[i : i + step]).decode("ascii") for i in range(0, len(pcm), step)]


class Validator:
    """Reads raw server events through the SDK connection and validates each one."""

    def __init__(self, connection: Any = None, quiet: bool = False) -> None:
        self.connection = connection
        self.quiet = quiet
        self.counts: Counter[str] = Counter()
        self.failures: list[tuple[str, str]] = []
        self.validated = 0

    def fail(self, kind: str, error: str) -> None:
        self.failures.append((kind, error))
        if not self.quiet:
            print(f"FAIL {kind}: {error}", flush=True)

    def check(self, raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except ValueError as error:
            self.fail("<not json>", f"{error}: {raw[:200]!r}")
            return {}
        kind = str(data.get("type")) if isinstance(data, dict) else "<not an object>"
        self.counts[kind] += 1
        model = EVENT_MODELS.get(kind)
        if model is None:
            self.fail(kind, "type is not a member of openai.types.realtime.RealtimeServerEvent")
            return data if isinstance(data, dict) else {}
        ok = True
        try:
            event = model.model_validate_json(raw, strict=True)
        except pydantic.ValidationError as error:
            self.fail(kind, f"{model.__name__} (strict): {describe(error)}")
            return data
        try:
            via_union = SERVER_EVENT_ADAPTER.validate_json(raw, strict=True)
            if type(via_union) is not model:
                ok = False
                self.fail(kind, f"the union picked {type(via_union).__name__}, not {model.__name__}")
        except pydantic.ValidationError as error:
            ok = False
            self.fail(kind, f"RealtimeServerEvent union (strict): {describe(error)}")
        unknown = unknown_fields(event, "")
        if kind in SESSION_EVENTS:
            session_extra = {f".session.{name}" for name in SESSION_RESPONSE_FIELDS}
            unknown = [path for path in unknown if path not in session_extra]
            try:
                session = RealtimeSessionCreateResponse.model_validate_json(json.dumps(data["session"]), strict=True)
                unknown += unknown_fields(session, ".session")
            except pydantic.ValidationError as error:
                ok = False
                self.fail(kind, f"session as RealtimeSessionCreateResponse (strict): {describe(error)}")
        for path in dict.fromkeys(unknown):  # both session models may name the same stray field
            ok = False
            self.fail(kind, f"unknown field {path.lstrip('.')} (not declared by {model.__name__} or its parts)")
        if self.connection is not None:
            parsed = self.connection.parse_event(raw)  # the SDK's own (lenient) parse must agree on the type
            if not isinstance(parsed, model):
                ok = False
                self.fail(kind, f"SDK parse_event gave {type(parsed).__name__}, not {model.__name__}")
        if ok:
            self.validated += 1
        return data

    async def next(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv_bytes(), EVENT_TIMEOUT_S)
        return self.check(raw)

    async def until(self, done: Callable[[dict[str, Any]], bool], what: str) -> list[dict[str, Any]]:
        """Read (and validate) events until ``done`` holds for one; return them all."""
        seen: list[dict[str, Any]] = []
        while True:
            try:
                event = await self.next()
            except TimeoutError:
                raise TimeoutError(f"no {what} in {EVENT_TIMEOUT_S} s; got {[e.get('type') for e in seen]}") from None
            seen.append(event)
            if done(event):
                return seen
            if event.get("type") == "error":
                self.fail("scenario", f"an unexpected error while waiting for {what}: {event.get('error')}")

    def expect(self, condition: bool, what: str) -> None:
        if not condition:
            self.fail("scenario", what)


def is_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event.get("type") == kind


MANUAL_SESSION: dict[str, Any] = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "instructions": "You are a load-test partner. Answer briefly.",
    "audio": {
        "input": {"format": {"type": "audio/pcm", "rate": RATE}, "turn_detection": None},
        "output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": "marin"},
    },
}


async def manual_turn(v: Validator, conn: Any, pcm: bytes, label: str) -> None:
    for piece in chunks(pcm):
        await conn.input_audio_buffer.append(audio=piece)
    await conn.input_audio_buffer.commit(event_id=f"evt_commit_{label}")
    events = await v.until(is_type("input_audio_buffer.committed"), f"{label}: input_audio_buffer.committed")
    await conn.response.create(event_id=f"evt_create_{label}")
    events += await v.until(is_type("response.done"), f"{label}: response.done")
    kinds = [e.get("type") for e in events]
    v.expect("response.output_audio.delta" in kinds, f"{label}: no response.output_audio.delta before response.done")
    done = events[-1]
    v.expect(done.get("response", {}).get("status") == "completed", f"{label}: response.done not completed: {done}")


async def expect_error(v: Validator, code: str, event_id: str, what: str) -> list[dict[str, Any]]:
    """Read up to the next error event, check its code and echoed client event_id; return the events read."""
    events = await v.until(is_type("error"), f"error for {what}")
    error = events[-1].get("error", {})
    v.expect(error.get("code") == code, f"{what}: expected error code {code}, got {error}")
    v.expect(error.get("event_id") == event_id, f"{what}: error.event_id is not the client's {event_id}: {error}")
    return events


async def scenario(v: Validator, conn: Any) -> None:
    rng = random.Random(7)
    first = await v.next()
    v.expect(first.get("type") == "session.created", f"the first event is {first.get('type')}, not session.created")

    # Manual turns: turn_detection null, pcm16 24 kHz out.
    await conn.session.update(session=MANUAL_SESSION, event_id="evt_update_manual")
    updated = (await v.until(is_type("session.updated"), "session.updated (manual)"))[-1]
    audio = updated.get("session", {}).get("audio", {})
    v.expect(audio.get("input", {}).get("turn_detection", "missing") is None, f"turn_detection not null: {audio}")
    v.expect(audio.get("output", {}).get("format") == {"type": "audio/pcm", "rate": RATE}, f"output format: {audio}")
    await manual_turn(v, conn, noise(1.0, 200, rng), "turn1")
    await manual_turn(v, conn, noise(1.2, 200, rng), "turn2")

    # session.update without session.type (sent as a plain dict: the SDK's typed helper would not allow it).
    await conn.send({"type": "session.update", "event_id": "evt_update_untyped", "session": {"instructions": "x"}})
    await expect_error(v, "missing_required_parameter", "evt_update_untyped", "session.update without session.type")

    # Commit with 50 ms of audio, then clear the buffer.
    await conn.input_audio_buffer.append(audio=chunks(noise(0.05, 200, rng))[0])
    await conn.input_audio_buffer.commit(event_id="evt_commit_short")
    await expect_error(v, "input_audio_buffer_commit_empty", "evt_commit_short", "a 50 ms commit")
    await conn.input_audio_buffer.clear()
    await v.until(is_type("input_audio_buffer.cleared"), "input_audio_buffer.cleared")

    # response.create twice, then response.cancel, then a cancel with nothing to cancel.
    for piece in chunks(noise(1.0, 200, rng)):
        await conn.input_audio_buffer.append(audio=piece)
    await conn.input_audio_buffer.commit()
    await v.until(is_type("input_audio_buffer.committed"), "committed before the double create")
    await conn.response.create(event_id="evt_create_a")
    await conn.response.create(event_id="evt_create_b")
    events = await expect_error(v, "conversation_already_has_active_response", "evt_create_b", "a 2nd response.create")
    v.expect(any(e.get("type") == "response.created" for e in events), "no response.created for the first create")
    await conn.response.cancel(event_id="evt_cancel")
    events = await v.until(is_type("response.done"), "response.done after response.cancel")
    v.expect(events[-1].get("response", {}).get("status") == "cancelled", f"cancel: response.done is {events[-1]}")
    await conn.response.cancel(event_id="evt_cancel_idle")
    await expect_error(v, "response_cancel_not_active", "evt_cancel_idle", "response.cancel with no active response")

    # A server-VAD turn: speech, then silence long enough to end it; the server commits and responds by itself.
    vad_input = {"format": {"type": "audio/pcm", "rate": RATE}, "turn_detection": {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
        "create_response": True, "interrupt_response": True}}  # fmt: skip
    vad_session = {**MANUAL_SESSION, "audio": {**MANUAL_SESSION["audio"], "input": vad_input}}
    await conn.session.update(session=vad_session, event_id="evt_update_vad")
    updated = (await v.until(is_type("session.updated"), "session.updated (server_vad)"))[-1]
    turn_detection = updated.get("session", {}).get("audio", {}).get("input", {}).get("turn_detection") or {}
    v.expect(turn_detection.get("type") == "server_vad", f"server_vad not echoed: {updated}")
    for piece in chunks(noise(0.3, 0, rng) + voice_like(1.0) + noise(1.0, 0, rng)):
        await conn.input_audio_buffer.append(audio=piece)
    kinds = [e.get("type") for e in await v.until(is_type("response.done"), "VAD turn: response.done")]
    for expected in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                     "input_audio_buffer.committed", "response.created", "response.output_audio.delta"):  # fmt: skip
        v.expect(expected in kinds, f"VAD turn: no {expected} before response.done")


async def play(url: str, api_key: str, model: str) -> Validator:
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rstrip("/").removesuffix("/realtime")  # the SDK appends /realtime itself
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    client = AsyncOpenAI(api_key=api_key, websocket_base_url=base, base_url=base.replace("ws", "http", 1))
    v = Validator()
    try:
        async with client.realtime.connect(model=model) as conn:
            v.connection = conn
            await scenario(v, conn)
    except Exception as error:  # a dropped connection or a refused handshake is a failure, reported like the rest
        v.fail("scenario", f"{type(error).__name__}: {error}")
    return v


# Known-bad events the checks must reject (and one good one they must pass): proof that they are not vacuous.
_DELTA = {"type": "response.output_audio.delta", "event_id": "event_1", "response_id": "resp_1", "item_id": "item_1",
          "output_index": 0, "content_index": 0, "delta": "AAAA"}  # fmt: skip
_SESSION = {"type": "realtime", "id": "sess_1", "object": "realtime.session", "expires_at": 0}
SELF_TEST: list[tuple[str, dict[str, Any], bool]] = [
    ("a valid audio delta", _DELTA, True),
    ("a valid session.created", {"type": "session.created", "event_id": "event_1", "session": _SESSION}, True),
    ("an unknown top-level field", {**_DELTA, "extra": 1}, False),
    ("a float for an int", {**_DELTA, "output_index": 0.0}, False),
    ("a string for an int (strict)", {**_DELTA, "output_index": "0"}, False),
    ("a missing required field", {k: x for k, x in _DELTA.items() if k != "delta"}, False),
    ("a beta event name", {**_DELTA, "type": "response.audio.delta"}, False),
    (
        "a user message without content",
        {
            "type": "conversation.item.added",
            "event_id": "event_1",
            "previous_item_id": None,
            "item": {"type": "message", "role": "user", "status": "completed"},
        },
        False,
    ),
    (
        "an unknown nested field",
        {
            "type": "conversation.item.added",
            "event_id": "event_1",
            "previous_item_id": None,
            "item": {"type": "message", "role": "user", "content": [{"type": "input_audio", "x": 1}]},
        },
        False,
    ),
    (
        "an unknown session field",
        {"type": "session.created", "event_id": "event_1", "session": {**_SESSION, "x": 1}},
        False,
    ),
    (
        "a bad response status",
        {
            "type": "response.done",
            "event_id": "event_1",
            "response": {"id": "resp_1", "object": "realtime.response", "status": "done", "output": []},
        },
        False,
    ),
]


def self_test() -> list[str]:
    wrong = []
    for name, event, valid in SELF_TEST:
        probe = Validator(quiet=True)
        probe.check(json.dumps(event).encode())
        if (not probe.failures) != valid:
            wrong.append(f"{name}: {'rejected' if valid else 'accepted'} ({probe.failures})")
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the mock's URL, ws://127.0.0.1:PORT/v1/realtime (or .../v1)")
    parser.add_argument("--api-key", default="mock-key")
    parser.add_argument("--model", default="gpt-realtime")
    args = parser.parse_args()
    validator = asyncio.run(play(args.url, args.api_key, args.model))
    for problem in self_test():
        validator.fail("self-test", problem)
    summary = {
        "validated": validator.validated,
        "failures": len(validator.failures),
        "types": sorted(validator.counts),
        "counts": dict(sorted(validator.counts.items())),
        "self_test_cases": len(SELF_TEST),
        "sdk": openai.__version__,
        "pydantic": pydantic.VERSION,
    }
    print(json.dumps(summary), flush=True)
    return 1 if validator.failures else 0


if __name__ == "__main__":
    sys.exit(main())
