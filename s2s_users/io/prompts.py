"""Prompt audio from disk: the shipped fixtures or a user's folder, as PCM16 mono at the provider's rate.

Loading (and resampling) happens once per process per folder and rate; every session shares the result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile

from s2s_users.core.audio import resample
from s2s_users.core.exceptions import AudioFixtureError

# The fixtures live beside the package in a source tree (an installed package names --prompts explicitly).
DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parents[2] / "audio_fixtures"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass(frozen=True, slots=True)
class Prompt:
    prompt_id: str
    text: str | None
    pcm: bytes
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / (2 * self.sample_rate)


def _read(path: Path, sample_rate: int) -> bytes:
    try:
        data, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/TypeError by format
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioFixtureError(f"cannot read prompt audio {path}: {reason}; re-export it as WAV or FLAC") from exc
    if data.shape[0] == 0:
        raise AudioFixtureError(f"prompt {path} is empty: remove it or record it again")
    mono = resample(data.mean(axis=1), int(rate), sample_rate)
    return bytes(np.clip(np.round(mono * 32767), -32768, 32767).astype("<i2").tobytes())


@lru_cache(maxsize=8)
def _load(directory: Path, sample_rate: int) -> tuple[Prompt, ...]:
    if directory.exists() and not directory.is_dir():
        raise AudioFixtureError(
            f"--prompts {directory} is a file, not a folder: pass the folder that holds the prompts"
        )
    if not directory.is_dir():
        raise AudioFixtureError(
            f"prompt folder {directory} does not exist: pass --prompts with a folder of WAV/FLAC files"
        )
    try:
        return _load_from(directory, sample_rate)
    except OSError as exc:  # a folder or file we may not read (permissions, I/O error)
        raise AudioFixtureError(
            f"cannot read prompts in {directory}: {exc.strerror or exc}: check its permissions"
        ) from exc


def _load_from(directory: Path, sample_rate: int) -> tuple[Prompt, ...]:
    manifest = directory / "manifest.json"
    if manifest.exists():
        try:
            entries = json.loads(manifest.read_text())["prompts"]
        except (ValueError, KeyError) as exc:
            raise AudioFixtureError(f"{manifest} is not a prompt manifest: {exc}") from exc
        prompts = []
        for entry in entries:
            path = directory / entry["file"]
            if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
                raise AudioFixtureError(
                    f"{path} is missing or does not match {manifest}: "
                    "regenerate with python audio_fixtures/make_fixtures.py"
                )
            prompts.append(Prompt(entry["id"], entry.get("text"), _read(path, sample_rate), sample_rate))
        return tuple(prompts)
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise AudioFixtureError(f"prompt folder {directory} has no WAV/FLAC/OGG files")
    return tuple(Prompt(p.stem, None, _read(p, sample_rate), sample_rate) for p in files)


def load_prompts(directory: Path | None, sample_rate: int) -> tuple[Prompt, ...]:
    """Load every prompt of ``directory`` (default: the shipped fixtures), as PCM16 mono at ``sample_rate``."""
    return _load((directory or DEFAULT_PROMPTS_DIR).resolve(), sample_rate)
