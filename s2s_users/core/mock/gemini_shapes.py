"""The JSON the mock sends as a Gemini Live server: camelCase, and only fields the official SDK knows (its models
forbid extra fields, and a frame with no known top-level key is an error to it). Checked by tests/sdk."""

from __future__ import annotations

import json
from typing import Any

from s2s_users.core.protocols.gemini_wire import OUTPUT_MIME, format_duration

#: Audio tokens per second of audio, input and output alike (Gemini's documented rate for audio input).
AUDIO_TOKENS_PER_S = 32

_AUDIO_OPEN = '{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"' + OUTPUT_MIME + '","data":"'


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def audio(data_b64: str) -> str:
    """One chunk of the answer's audio, serialised by hand (base64 needs no escaping; this is the hot path)."""
    return _AUDIO_OPEN + data_b64 + '"}}]}}}'


def setup_complete(session_id: str) -> str:
    return dumps({"setupComplete": {"sessionId": session_id}})


def transcription(text: str) -> str:
    return dumps({"serverContent": {"outputTranscription": {"text": text}}})


def generation_complete() -> str:
    return dumps({"serverContent": {"generationComplete": True}})


def interrupted() -> str:
    return dumps({"serverContent": {"interrupted": True}})


def turn_complete(prompt_tokens: int, response_tokens: int, reason: str | None = None) -> str:
    """The end of a model turn, with the turn's usage in the same frame (as the SDK's own tests show it)."""
    content: dict[str, Any] = {"turnComplete": True}
    if reason is not None:
        content["turnCompleteReason"] = reason
    usage = {
        "promptTokenCount": prompt_tokens,
        "responseTokenCount": response_tokens,
        "totalTokenCount": prompt_tokens + response_tokens,
        "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": prompt_tokens}],
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": response_tokens}],
    }
    return dumps({"serverContent": content, "usageMetadata": usage})


def go_away(time_left_s: float) -> str:
    return dumps({"goAway": {"timeLeft": format_duration(time_left_s)}})


def resumption_update(handle: str) -> str:
    return dumps({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})
