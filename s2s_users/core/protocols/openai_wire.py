"""OpenAI Realtime wire facts shared by the client adapter and the mock server, so the two cannot drift apart.

Audio is PCM16 mono at 24 kHz, base64 in JSON, both ways. The GA names of server events are canonical; live
servers have been seen sending the beta (preview) names, which the adapter accepts and counts and which the mock
sends for profiles of flavour "beta".
"""

from __future__ import annotations

SAMPLE_RATE = 24_000
AUDIO_FORMAT = {"type": "audio/pcm", "rate": SAMPLE_RATE}

#: GA server event names and their beta (preview) names.
BETA_NAMES: dict[str, str] = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
#: Beta names back to their GA names.
GA_NAMES: dict[str, str] = {beta: ga for ga, beta in BETA_NAMES.items()}
