"""The JSON shapes of the mock's server objects (session, items, usage, response), as the GA API sends them.

Kept apart from the session's behaviour so that what the mock *says* can be compared with the official SDK's types
(tests/sdk) without reading how it decides what to say.
"""

from __future__ import annotations

from typing import Any

from s2s_users.core.mock.vad import PREFIX_PADDING_MS, VAD_SILENCE_MS
from s2s_users.core.protocols.openai_wire import AUDIO_FORMAT

SERVER_ERROR_MESSAGE = "The server had an error while processing your request."


def session_object(
    session_id: str, model: str, instructions: str, turn_detection: dict[str, Any] | None, voice: str
) -> dict[str, Any]:
    audio_format = dict(AUDIO_FORMAT)
    return {
        "id": session_id,
        "object": "realtime.session",
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": instructions,
        "audio": {
            "input": {"format": audio_format, "turn_detection": turn_detection},
            "output": {"format": audio_format, "voice": voice},
        },
    }


def server_vad() -> dict[str, Any]:
    """A session's turn detection until a session.update changes it: the server's VAD, which answers and listens."""
    return {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": PREFIX_PADDING_MS,
            "silence_duration_ms": VAD_SILENCE_MS, "create_response": True, "interrupt_response": True}  # fmt: skip


def user_audio_item(item_id: str) -> dict[str, Any]:
    """An audio user message: content is required (the transcript is null without input transcription)."""
    return {"id": item_id, "object": "realtime.item", "type": "message", "role": "user", "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}]}  # fmt: skip


def text_item(item_id: str, role: str, content: list[Any]) -> dict[str, Any]:
    """A text message the client added (its ``content`` as sent)."""
    return {"id": item_id, "object": "realtime.item", "type": "message", "role": role, "status": "completed",
            "content": content}  # fmt: skip


def usage(input_tokens: int, output_tokens: int, input_text_tokens: int = 0) -> dict[str, Any]:
    """Token usage of a response: audio, but for text items a client added (``input_text_tokens`` of the
    ``input_tokens``)."""
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": input_text_tokens,
            "audio_tokens": input_tokens - input_text_tokens,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0},
        },
        "output_token_details": {"text_tokens": 0, "audio_tokens": output_tokens},
    }


def started_assistant_item(item_id: str) -> dict[str, Any]:
    """The assistant's item as its response starts: content is required, empty until the content part is added."""
    return {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant", "status": "in_progress",
            "content": []}  # fmt: skip


def assistant_item(item_id: str, has_audio: bool) -> dict[str, Any]:
    """The assistant's item once its response is done (no content parts when there was no audio)."""
    content = [{"type": "output_audio", "transcript": "..."}] if has_audio else []
    return {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant", "status": "completed",
            "content": content}  # fmt: skip


def started_response(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []}


def audio_delta(kind: str, event_id: str, response_id: str, item_id: str, delta_b64: str) -> str:
    """An audio delta, serialised by hand: base64 needs no JSON escaping, and at 1,000 sessions streaming ten
    deltas a second each, json.dumps scanning every 6 KB payload is the mock's largest cost."""
    return (
        f'{{"type":"{kind}","event_id":"{event_id}","response_id":"{response_id}",'
        f'"item_id":"{item_id}","output_index":0,"content_index":0,"delta":"{delta_b64}"}}'
    )


def server_error() -> dict[str, str]:
    """Why a failed response failed (its status_details.error)."""
    return {"type": "server_error", "code": "server_error", "message": SERVER_ERROR_MESSAGE}


def response_object(
    response_id: str, status: str, item: dict[str, Any], usage_block: dict[str, Any],
    reason: str | None = None, error: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    details: dict[str, Any] | None = None
    if status == "failed":
        details = {"type": "failed", "error": error}
    elif status != "completed":
        details = {"type": status, "reason": reason}
    return {"id": response_id, "object": "realtime.response", "status": status, "status_details": details,
            "output": [item], "usage": usage_block}  # fmt: skip
