"""The mock's server VAD: the level of 20 ms frames says when the user starts and stops speaking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2s_users.core.protocols.openai_wire import SAMPLE_RATE

VAD_RMS = 300.0  # PCM16 units; espeak prompts sit far above, digital silence at 0
VAD_SILENCE_MS = 500
PREFIX_PADDING_MS = 300


@dataclass(frozen=True, slots=True)
class SpeechEdge:
    """Speech started (``started``) or stopped at ``position_ms`` of the session's input audio."""

    started: bool
    position_ms: int


class VoiceActivity:
    """Speech starts on a frame above ``VAD_RMS`` and stops after ``silence_ms`` below it."""

    def __init__(self, silence_ms: int = VAD_SILENCE_MS, rate: int = SAMPLE_RATE) -> None:
        self.silence_ms = silence_ms
        self._rate = rate  # 24 kHz for OpenAI's input, 16 kHz for Gemini's
        self._frame = rate // 50  # 20 ms
        self._rest = b""
        self._in_speech = False
        self._silence_samples = 0
        self._samples = 0

    def feed(self, pcm: bytes) -> list[SpeechEdge]:
        data = self._rest + pcm
        frame = self._frame
        usable = len(data) // (2 * frame) * 2 * frame
        self._rest = data[usable:]
        frames = np.frombuffer(data[:usable], dtype="<i2").astype(np.float64).reshape(-1, frame)
        edges = []
        for rms in np.sqrt((frames**2).mean(axis=1)):
            self._samples += frame
            position_ms = self._samples * 1000 // self._rate
            if rms >= VAD_RMS:
                if not self._in_speech:
                    self._in_speech = True
                    edges.append(SpeechEdge(True, position_ms))
                self._silence_samples = 0
            elif self._in_speech:
                self._silence_samples += frame
                if self._silence_samples * 1000 >= self.silence_ms * self._rate:
                    self._in_speech = False
                    edges.append(SpeechEdge(False, position_ms))
        return edges
