"""Check the mock's Gemini Live profile with the official ``google-genai`` SDK (runs in its own venv, .venv-genai).

Usage: ``python tests/sdk/validate_gemini_mock.py ws://127.0.0.1:PORT [--api-key mock-key]``

The script never imports s2s_users. It drives a running mock through ``client.aio.live.connect`` (manual turns with
activityStart/activityEnd, every kind of turn end, resumption with a handle, a server-VAD turn, a goAway and the
close after it, a refused key), and validates every raw server frame strictly against the SDK's
``LiveServerMessage`` (its models forbid unknown fields; camelCase, as the wire). The SDK dials ``wss://`` only: on
loopback the script rewrites the scheme to ``ws://`` and changes nothing else. The last stdout line is a JSON
summary ``{"frames": N, "validated": N, "failures": K, "keys": [...], "counts": {...}, "sdk": "x.y.z"}``;
failures are printed before it as ``FAIL <what>: <error>`` and the exit code is 1 if there are any.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import struct
import sys
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pydantic
from google import genai
from google.genai import errors, live, types

IN_RATE = 16_000
TIMEOUT_S = 30.0
_real_connect = live.ws_connect


class Validator:
    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.counts: Counter[str] = Counter()
        self.failures: list[tuple[str, str]] = []
        self.frames = 0
        self.validated = 0

    def fail(self, what: str, error: str) -> None:
        self.failures.append((what, error))
        if not self.quiet:
            print(f"FAIL {what}: {error}", flush=True)

    def expect(self, condition: bool, what: str) -> None:
        if not condition:
            self.fail("scenario", what)

    def check(self, raw: str | bytes) -> None:
        """One raw server frame: JSON, known top-level keys only, strictly valid as a LiveServerMessage."""
        self.frames += 1
        try:
            data = json.loads(raw)
        except ValueError as error:
            self.fail("<not json>", f"{error}: {raw[:200]!r}")
            return
        if not isinstance(data, dict) or not data:
            self.fail("<frame>", f"not a JSON object with fields: {raw[:200]!r}")
            return
        for key in data:
            self.counts[key] += 1
        try:
            types.LiveServerMessage.model_validate(data)
        except pydantic.ValidationError as error:
            self.fail("+".join(sorted(data)), f"LiveServerMessage: {error.errors(include_url=False)}"[:600])
            return
        self.validated += 1


VALIDATOR = Validator()


@contextlib.asynccontextmanager
async def _loopback(uri: str, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
    """The SDK's ``ws_connect``, to ``ws://`` on loopback, with every frame it receives validated first."""
    kwargs.pop("ssl", None)
    async with _real_connect(uri.replace("wss://", "ws://", 1), *args, **kwargs) as ws:
        receive = ws.recv

        async def recv(*a: Any, **kw: Any) -> Any:
            raw = await asyncio.wait_for(receive(*a, **kw), TIMEOUT_S)
            VALIDATOR.check(raw)
            return raw

        ws.recv = recv
        yield ws


live.ws_connect = _loopback


def tone(seconds: float, amplitude: int) -> bytes:
    count = round(seconds * IN_RATE)
    samples = (round(amplitude * math.sin(2 * math.pi * 180 * i / IN_RATE)) for i in range(count))
    return struct.pack(f"<{count}h", *samples)


def blob(pcm: bytes) -> types.Blob:
    return types.Blob(data=pcm, mime_type=f"audio/pcm;rate={IN_RATE}")


async def turn(session: Any, manual: bool = True) -> list[types.LiveServerMessage]:
    """One user turn, then the SDK's own ``receive()`` up to its turnComplete."""
    if manual:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        for start in range(0, IN_RATE * 2, 3200):
            await session.send_realtime_input(audio=blob(tone(1.0, 8000)[start : start + 3200]))
        await session.send_realtime_input(activity_end=types.ActivityEnd())
    else:
        speech = tone(0.2, 0) + tone(1.0, 8000) + tone(1.0, 0)
        for start in range(0, len(speech), 3200):
            await session.send_realtime_input(audio=blob(speech[start : start + 3200]))
    return [message async for message in session.receive()]


def audio_bytes(messages: list[types.LiveServerMessage]) -> int:
    return sum(len(m.data or b"") for m in messages)


def content(messages: list[types.LiveServerMessage]) -> list[types.LiveServerContent]:
    return [m.server_content for m in messages if m.server_content is not None]


def config(manual: bool, handle: str | None = None) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Puck"))
        ),
        system_instruction="You are a load-test partner. Answer briefly.",
        output_audio_transcription=types.AudioTranscriptionConfig(),
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=manual)
        ),
        session_resumption=types.SessionResumptionConfig(handle=handle),
    )


async def scenario(v: Validator, client: genai.Client, model: str, capped_model: str) -> None:
    # Manual turns, each ending its own way: healthy, RESPONSE_REJECTED, interrupted, refused, truncated, cut.
    async with client.aio.live.connect(model=model, config=config(manual=True)) as session:
        v.expect(bool(session.session_id), "setupComplete carried no sessionId")
        first_id = session.session_id
        first = await turn(session)
        v.expect(audio_bytes(first) > 0, "turn 1: no audio")
        v.expect(any(c.generation_complete for c in content(first)), "turn 1: no generationComplete")
        done = first[-1]
        v.expect(done.usage_metadata is not None and bool(done.usage_metadata.response_token_count), "no usage")
        transcript = "".join(c.output_transcription.text or "" for c in content(first) if c.output_transcription)
        v.expect(bool(transcript.strip()), "turn 1: no output transcription although it was asked for")
        handle = (await session._receive()).session_resumption_update
        v.expect(handle is not None and handle.resumable is True, f"no resumable handle after turn 1: {handle}")
        rejected = await turn(session)
        v.expect(audio_bytes(rejected) == 0, "turn 2 (zero_audio) had audio")
        v.expect(str(rejected[-1].server_content.turn_complete_reason).endswith("RESPONSE_REJECTED"), "turn 2 reason")
        await session._receive()
        interrupted = await turn(session)
        v.expect(any(c.interrupted for c in content(interrupted)), "turn 3 (cancelled) was not interrupted")
        await session._receive()
        refused = await turn(session)
        v.expect(str(refused[-1].server_content.turn_complete_reason).endswith("PROHIBITED_INPUT_CONTENT"), "turn 4")
        await session._receive()
        before = refused[-1].usage_metadata.prompt_token_count if refused[-1].usage_metadata else None
        truncated = await turn(session)
        after = truncated[-1].usage_metadata.prompt_token_count if truncated[-1].usage_metadata else None
        fell = before is not None and after is not None and after < before
        v.expect(fell, f"turn 5 (truncation): the prompt token count went from {before} to {after}")
        await session._receive()
        cut = await turn(session)
        v.expect(audio_bytes(cut) > 0 and not any(c.generation_complete for c in content(cut)), "turn 6 not cut")
    # The same session again, on a new connection, with the handle from turn 1.
    async with client.aio.live.connect(model=model, config=config(manual=True, handle=handle.new_handle)) as session:
        v.expect(session.session_id == first_id, f"resumed session id {session.session_id} != {first_id}")
    # A server-VAD turn: the server's activity detection ends it.
    async with client.aio.live.connect(model=model, config=config(manual=False)) as session:
        v.expect(audio_bytes(await turn(session, manual=False)) > 0, "server-VAD turn: no audio")
    # The connection cap: goAway, then the close the SDK raises as an APIError with its code.
    async with client.aio.live.connect(model=capped_model, config=config(manual=True)) as session:
        await session._receive()  # the resumption handle
        going = await session._receive()
        v.expect(going.go_away is not None and (going.go_away.time_left or "").endswith("s"), f"no goAway: {going}")
        try:
            await session._receive()
            v.fail("scenario", "no close after the goAway's time")
        except errors.APIError as error:
            v.expect(error.code == 1011, f"the close after goAway is {error.code}, not 1011")


async def refused_key(v: Validator, base_url: str, model: str) -> None:
    client = genai.Client(api_key="not-the-key", http_options={"base_url": base_url, "api_version": "v1beta"})
    try:
        async with client.aio.live.connect(model=model, config=config(manual=True)):
            v.fail("scenario", "a bad key was accepted")
    except errors.APIError as error:
        v.expect(error.code == 1007, f"a bad key closed with {error.code}, not 1007")


SELF_TEST: list[tuple[str, dict[str, Any], bool]] = [
    (
        "a valid audio frame",
        {
            "serverContent": {
                "modelTurn": {"parts": [{"inlineData": {"data": "AAAA", "mimeType": "audio/pcm;rate=24000"}}]}
            }
        },
        True,
    ),  # fmt: skip
    (
        "a valid turnComplete with usage",
        {
            "serverContent": {"turnComplete": True},
            "usageMetadata": {"promptTokenCount": 1, "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 1}]},
        },
        True,
    ),  # fmt: skip
    ("an unknown top-level field", {"someFutureField": {}}, False),
    ("an unknown field beside a known one", {"goAway": {"timeLeft": "5s"}, "x": 1}, False),
    ("an unknown nested field", {"serverContent": {"turnComplete": True, "x": 1}}, False),
    ("a wrong type", {"serverContent": {"turnComplete": {"yes": 1}}}, False),
]


def self_test() -> list[str]:
    wrong = []
    for name, frame, valid in SELF_TEST:
        probe = Validator(quiet=True)
        probe.check(json.dumps(frame))
        if (not probe.failures) != valid:
            wrong.append(f"{name}: {'rejected' if valid else 'accepted'} ({probe.failures})")
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the mock's base URL, ws://127.0.0.1:PORT")
    parser.add_argument("--api-key", default="mock-key")
    parser.add_argument("--model", default="g-sdk")
    parser.add_argument("--capped-model", default="g-sdk-cap")
    args = parser.parse_args()
    parts = urllib.parse.urlsplit(args.url)
    base_url = f"http://{parts.netloc}"  # the SDK makes it wss://, the loopback shim ws://
    client = genai.Client(api_key=args.api_key, http_options={"base_url": base_url, "api_version": "v1beta"})
    try:
        asyncio.run(scenario(VALIDATOR, client, args.model, args.capped_model))
        asyncio.run(refused_key(VALIDATOR, base_url, args.model))
    except Exception as error:  # a dropped connection or a parse error in the SDK is a failure like the rest
        VALIDATOR.fail("scenario", f"{type(error).__name__}: {error}")
    for problem in self_test():
        VALIDATOR.fail("self-test", problem)
    summary = {
        "frames": VALIDATOR.frames,
        "validated": VALIDATOR.validated,
        "failures": len(VALIDATOR.failures),
        "keys": sorted(VALIDATOR.counts),
        "counts": dict(sorted(VALIDATOR.counts.items())),
        "self_test_cases": len(SELF_TEST),
        "sdk": genai.__version__,
    }
    print(json.dumps(summary), flush=True)
    return 1 if VALIDATOR.failures else 0


if __name__ == "__main__":
    sys.exit(main())
