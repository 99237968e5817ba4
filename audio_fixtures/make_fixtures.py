"""Regenerate the prompt fixtures: 60 short English questions spoken by espeak-ng, 24 kHz mono PCM16 WAV.

    python audio_fixtures/make_fixtures.py

Needs Debian's espeak-ng and sox. Writes prompts/pNNN.wav and manifest.json (text, duration, rate, sha256).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

import soundfile

HERE = Path(__file__).resolve().parent
RATE = 24_000
PROMPTS = [
    "Hi there, can you hear me all right?",
    "What's a good way to start learning the guitar?",
    "How long should I practice every day?",
    "Can you tell me more about that last point?",
    "What kind of guitar would you recommend for a beginner?",
    "Is it better to learn chords or scales first?",
    "How do I keep my fingers from hurting?",
    "What songs are easy to play at the start?",
    "Let's change the subject. What should I cook for dinner tonight?",
    "I have chicken, rice and some vegetables.",
    "How long does that take to make?",
    "Could I make it a bit spicier for my friends?",
    "What wine would go well with that?",
    "Can you give me a quick recipe for dessert?",
    "Now I'm planning a trip to Portugal. Where should I go?",
    "What's the weather like there in October?",
    "How many days should I spend in Lisbon?",
    "Is it easy to get around by train?",
    "What food should I try while I'm there?",
    "Do I need to learn some Portuguese?",
    "How do you say thank you in Portuguese?",
    "What's a good day trip from Porto?",
    "Tell me something interesting about the history of Lisbon.",
    "Why did the earthquake of seventeen fifty five matter so much?",
    "Let's talk about sleep. Why do I wake up tired?",
    "How much coffee is too much?",
    "Is it bad to look at my phone before bed?",
    "What's a simple evening routine I could follow?",
    "Can you summarize what we said about sleep?",
    "I want to run a five kilometre race. Where do I start?",
    "How many times a week should I run?",
    "What should I eat before a run?",
    "My knees hurt after running. What can I do?",
    "What are good stretches for after a run?",
    "How do I stay motivated when it rains?",
    "Can you recommend a good book to read on holiday?",
    "Why do people like that book so much?",
    "What else has that author written?",
    "Give me a fun fact about octopuses.",
    "How smart are they compared to dogs?",
    "Why do octopuses have three hearts?",
    "Let's go back to the trip. What should I pack?",
    "Do I need an adapter for my phone charger?",
    "How much money should I budget per day?",
    "What's the best way to avoid jet lag?",
    "Can you help me write a short thank you note?",
    "Make it a little more formal, please.",
    "Now make it a little shorter, please.",
    "What's the difference between weather and climate?",
    "Why is the sky blue during the day?",
    "And why are sunsets red and orange?",
    "How far away from the earth is the moon?",
    "Could people live on Mars one day?",
    "What would we need to grow food there?",
    "Let's play a word game. Give me a word that rhymes with light.",
    "Now one that rhymes with orange.",
    "Tell me a short joke about computers.",
    "What did we talk about at the start of our chat?",
    "Which of those topics did you find most interesting?",
    "Thanks for the chat. Any last advice for today?",
]


def speak(text: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "130", "-w", str(raw), text], check=True)
        # Resample to 24 kHz mono PCM16, trim silence at both ends, pad 100 ms each side.
        subprocess.run(
            ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out),
             "silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse",
             "pad", "0.1", "0.1"],
            check=True,
        )  # fmt: skip


def main() -> None:
    folder = HERE / "prompts"
    folder.mkdir(exist_ok=True)
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.split()[3]
    entries = []
    for number, text in enumerate(PROMPTS, start=1):
        path = folder / f"p{number:03d}.wav"
        speak(text, path)
        info = soundfile.info(str(path))
        duration = info.frames / info.samplerate
        if not 2.0 <= duration <= 6.0:
            raise SystemExit(f"prompt {number} is {duration:.2f} s long: {text!r}")
        entries.append(
            {
                "id": path.stem,
                "file": f"prompts/{path.name}",
                "text": text,
                "duration_s": round(duration, 3),
                "sample_rate": RATE,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
        )
    manifest = {"sample_rate": RATE, "generator": f"espeak-ng {version} + sox", "prompts": entries}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    durations = [e["duration_s"] for e in entries]
    print(f"{len(entries)} prompts, {min(durations):.2f}-{max(durations):.2f} s, {sum(durations):.0f} s in all")


if __name__ == "__main__":
    main()
