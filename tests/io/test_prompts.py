"""Prompt loading: the shipped fixtures, users' own folders at any rate, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from s2s_users.core.audio import peak_dbfs
from s2s_users.core.exceptions import AudioFixtureError
from s2s_users.io.prompts import DEFAULT_PROMPTS_DIR, load_prompts


def test_the_shipped_fixtures_are_60_distinct_prompts_of_2_to_6_seconds() -> None:
    prompts = load_prompts(None, 24_000)
    assert len(prompts) == 60
    assert len({p.prompt_id for p in prompts}) == 60
    assert all(2.0 <= p.duration_s <= 6.0 and p.text for p in prompts)
    manifest = json.loads((DEFAULT_PROMPTS_DIR / "manifest.json").read_text())
    assert manifest["prompts"][0]["duration_s"] == pytest.approx(prompts[0].duration_s, abs=0.001)


def test_a_user_folder_at_any_rate_and_channel_count_is_converted(tmp_path: Path) -> None:
    t = np.arange(44_100 * 2) / 44_100
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    soundfile.write(str(tmp_path / "a.wav"), np.stack([tone, tone], axis=1), 44_100)
    soundfile.write(str(tmp_path / "b.flac"), tone[:16_000], 16_000)
    a, b = load_prompts(tmp_path, 24_000)
    assert (a.prompt_id, b.prompt_id) == ("a", "b")
    assert a.duration_s == pytest.approx(2.0, rel=0.01) and a.sample_rate == 24_000
    samples = np.frombuffer(a.pcm, dtype="<i2").astype(float)
    peak_hz = np.argmax(np.abs(np.fft.rfft(samples))) * 24_000 / samples.size
    assert peak_hz == pytest.approx(440, abs=2)
    assert peak_dbfs(a.pcm) == pytest.approx(-6.0, abs=0.2)


def test_errors_are_one_line_and_name_the_path(tmp_path: Path) -> None:
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    cases = [tmp_path / "missing", tmp_path]
    empty = tmp_path / "empty"
    empty.mkdir()
    cases.append(empty)
    for folder in cases:
        with pytest.raises(AudioFixtureError) as info:
            load_prompts(folder, 24_000)
        assert str(folder) in str(info.value) and "\n" not in str(info.value)


def test_peak_of_silence_is_minus_infinity() -> None:
    assert peak_dbfs(bytes(100)) == -np.inf and peak_dbfs(b"") == -np.inf


@pytest.mark.parametrize("rate", [44_100, 8_000])
def test_a_prompt_that_ends_loud_does_not_ring_into_its_silent_start(tmp_path: Path, rate: int) -> None:
    # Silence, a 440 Hz tone, then a held level cut off at the end: not periodic, as real recordings are not.
    # A whole-file FFT resampler wraps the abrupt end round into the start (about -20 dBFS there); soxr must not.
    t = np.arange(rate) / rate
    signal = 0.5 * np.sin(2 * np.pi * 440 * t)
    signal[: int(0.2 * rate)] = 0.0
    signal[-int(0.3 * rate) :] = 0.5
    soundfile.write(str(tmp_path / "edge.wav"), signal, rate, subtype="PCM_16")
    (prompt,) = load_prompts(tmp_path, 24_000)
    assert prompt.duration_s == pytest.approx(1.0, abs=0.001)
    samples = np.frombuffer(prompt.pcm, dtype="<i2").astype(float)
    assert peak_dbfs(prompt.pcm[: int(0.15 * 24_000) * 2]) < -60
    tone = samples[int(0.3 * 24_000) : int(0.6 * 24_000)]
    peak_hz = np.argmax(np.abs(np.fft.rfft(tone))) * 24_000 / tone.size
    assert peak_hz == pytest.approx(440, abs=4)
    assert 20 * np.log10(np.max(np.abs(tone)) / 32768) == pytest.approx(-6.0, abs=0.3)


def test_a_file_given_as_the_prompt_folder_is_refused_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "prompts.wav"
    path.write_bytes(b"RIFF")
    with pytest.raises(AudioFixtureError, match="is a file, not a folder"):
        load_prompts(path, 24_000)


def test_a_prompt_folder_that_cannot_be_read_is_one_line_not_an_os_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").mkdir()  # read_text() fails with an OSError, even for root
    with pytest.raises(AudioFixtureError, match=r"cannot read prompts in .*: Is a directory"):
        load_prompts(tmp_path, 24_000)
