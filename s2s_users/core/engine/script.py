"""The scripted conversation: which prompt each turn plays, cut into pre-encoded chunks.

Built once per process and shared by every session (everything here is immutable), so base64 encoding of
prompt audio happens once, not on every send.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from s2s_users.core.exceptions import ConfigError


@dataclass(frozen=True, slots=True)
class ScriptedPrompt:
    """One prompt, ready to stream: base64 chunks of PCM16 mono, prompt first, then trailing silence."""

    prompt_id: str
    input_audio_s: float
    chunks_b64: tuple[str, ...]
    prompt_chunks: int
    """How many of ``chunks_b64`` are the prompt itself; the rest is trailing silence (server VAD)."""


@dataclass(frozen=True, slots=True)
class Script:
    """Turn ``i`` (1-based) plays ``prompts[(i - 1) % len(prompts)]``: every session hears the same order."""

    prompts: tuple[ScriptedPrompt, ...]
    chunk_s: float
    silence_b64: str = ""
    """One chunk of digital silence, for the silence streamed between turns (``engine/carrier.py``)."""

    def prompt_for_turn(self, turn: int) -> ScriptedPrompt:
        return self.prompts[(turn - 1) % len(self.prompts)]


def _chunks(pcm: bytes, chunk_bytes: int) -> list[str]:
    return [base64.b64encode(pcm[i : i + chunk_bytes]).decode("ascii") for i in range(0, len(pcm), chunk_bytes)]


def build_script(
    prompts: Sequence[tuple[str, bytes]],
    sample_rate: int,
    chunk_ms: int,
    trailing_silence_ms: int = 0,
) -> Script:
    """Cut ``(prompt_id, pcm16)`` pairs into base64 chunks of ``chunk_ms``, adding trailing silence if asked.

    Raises:
        ConfigError: no prompts, an empty prompt, or a chunk size outside 10–1000 ms.
    """
    if not prompts:
        raise ConfigError("no prompts to play: check --prompts (a folder of WAV/FLAC files)")
    # An empty prompt has no last chunk, so its turn would never be sent and the session would wait for ever.
    if empty := [prompt_id for prompt_id, pcm in prompts if not pcm]:
        raise ConfigError(f"prompt {empty[0]} is empty: remove it or record it again")
    if not 10 <= chunk_ms <= 1000:
        raise ConfigError(f"--chunk-ms {chunk_ms} is out of range: use 10 to 1000 (20 is typical)")
    chunk_bytes = sample_rate * 2 * chunk_ms // 1000
    silence = bytes(sample_rate * 2 * trailing_silence_ms // 1000)
    scripted = []
    for prompt_id, pcm in prompts:
        prompt_chunks = _chunks(pcm, chunk_bytes)
        scripted.append(
            ScriptedPrompt(
                prompt_id=prompt_id,
                input_audio_s=len(pcm) / (2 * sample_rate),
                chunks_b64=tuple(prompt_chunks + _chunks(silence, chunk_bytes)),
                prompt_chunks=len(prompt_chunks),
            )
        )
    silent_chunk = base64.b64encode(bytes(chunk_bytes)).decode("ascii")
    return Script(prompts=tuple(scripted), chunk_s=chunk_ms / 1000, silence_b64=silent_chunk)
