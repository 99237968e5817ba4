"""The JSON shapes of the mock's server objects (session, items, usage, response), as the GA API sends them.

Kept apart from the session's behaviour so that what the mock *says* can be compared with the official SDK's types
(tests/sdk) without reading how it decides what to say.
"""

from __future__ import annotations

from typing import Any

from s2s_users.core.protocols.openai_wire import AUDIO_FORMAT


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


def assistant_item(item_id: str, has_audio: bool) -> dict[str, Any]:
    """The assistant's item once its response is done (no content parts when there was no audio)."""
    content = [{"type": "output_audio", "transcript": "..."}] if has_audio else []
    return {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant", "status": "completed",
            "content": content}  # fmt: skip


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
