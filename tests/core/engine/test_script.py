"""The scripted conversation: prompts cut into pre-encoded chunks, and the scripts that cannot be played."""

from __future__ import annotations

import base64

import pytest

from s2s_users.core.engine.script import build_script
from s2s_users.core.exceptions import ConfigError


def test_a_prompt_is_cut_into_chunks_with_a_short_last_one_and_trailing_silence() -> None:
    script = build_script([("p1", bytes(2 * 600))], 24_000, 20, trailing_silence_ms=40)  # 25 ms of prompt
    (prompt,) = script.prompts
    assert [len(base64.b64decode(chunk)) for chunk in prompt.chunks_b64] == [960, 240, 960, 960]
    assert prompt.prompt_chunks == 2 and script.chunk_s == 0.02


def test_an_empty_prompt_is_refused_rather_than_never_sent() -> None:
    # With no chunk, the turn never reaches its last chunk: the engine would wait with no deadline at all.
    with pytest.raises(ConfigError, match="prompt p2 is empty"):
        build_script([("p1", bytes(960)), ("p2", b"")], 24_000, 20)
