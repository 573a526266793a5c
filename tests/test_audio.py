"""Decoding every supported format, and a typed error for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from scipy.signal import correlate

from shared.audio import TARGET_SAMPLE_RATE, decode, original_blocks, probe
from shared.errors import DiarizationError, ErrorCode
from tests.audio_factory import OPUS_RATE, PYAV_FORMATS, SOUNDFILE_FORMATS, speech, write

SECONDS = 4.0


@pytest.fixture(scope="module")
def reference(sample_wav: Path) -> np.ndarray:
    return decode(sample_wav, 3600).samples[: int(SECONDS * TARGET_SAMPLE_RATE)]


def best_correlation(a: np.ndarray, b: np.ndarray, max_lag: int = 4000) -> float:
    """Peak normalised cross-correlation within +-max_lag samples (codecs add delay)."""
    length = min(len(a), len(b))
    middle = a[max_lag : length - max_lag]
    scores = correlate(b[:length], middle, mode="valid")
    return float(
        scores.max() / (np.linalg.norm(middle) * np.linalg.norm(b[max_lag : length - max_lag]))
    )


@pytest.mark.parametrize("extension", [*SOUNDFILE_FORMATS, *PYAV_FORMATS])
@pytest.mark.parametrize(("rate", "channels"), [(44_100, 2), (8_000, 1), (48_000, 6)])
def test_every_format_decodes_to_16k_mono(
    tmp_path: Path,
    sample_wav: Path,
    reference: np.ndarray,
    extension: str,
    rate: int,
    channels: int,
) -> None:
    if extension in ("webm", "opus"):
        rate = OPUS_RATE
    if extension in ("mp3", "webm", "opus"):
        channels = min(channels, 2)  # these encoders take mono or stereo only
    path = write(
        tmp_path / f"speech.{extension}", speech(sample_wav, SECONDS, rate, channels), rate
    )

    audio = decode(path, max_duration=60)

    assert audio.samples.dtype == np.float32
    assert audio.samples.ndim == 1
    assert audio.info.sample_rate == TARGET_SAMPLE_RATE
    assert audio.info.original_sample_rate == rate
    assert audio.info.original_channels == channels
    # raw ADTS AAC keeps the encoder's priming and padding (up to two 1024-sample frames)
    assert audio.info.duration == pytest.approx(SECONDS, abs=0.05 + 2048 / rate)
    # The content is the speech we wrote (downmixed, resampled; lossy codecs included).
    # 8 kHz keeps only the telephone band of the speech, hence the lower bar there.
    assert best_correlation(reference, audio.samples) > (0.75 if rate == 8_000 else 0.9)


def test_probe_reads_the_header_only(tmp_path: Path, sample_wav: Path) -> None:
    path = write(tmp_path / "a.flac", speech(sample_wav, 3.0, 22_050, 2), 22_050)
    info = probe(path, max_duration=60, filename="meeting.flac")
    assert info.filename == "meeting.flac"
    assert info.format == "flac"
    assert info.duration == pytest.approx(3.0, abs=0.01)
    assert info.size_bytes == path.stat().st_size


def test_original_blocks_keep_rate_and_channels(tmp_path: Path, sample_wav: Path) -> None:
    samples = speech(sample_wav, 2.0, 44_100, 2)
    path = write(tmp_path / "a.wav", samples, 44_100)
    info, blocks = original_blocks(path, max_duration=60)
    joined = np.concatenate(list(blocks))
    assert (info.original_sample_rate, joined.shape) == (44_100, samples.shape)
    np.testing.assert_allclose(joined, samples, atol=1 / 32767)


def _error_code(path: Path, max_duration: float = 60) -> ErrorCode:
    with pytest.raises(DiarizationError) as caught:
        decode(path, max_duration)
    return caught.value.code


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert _error_code(path) is ErrorCode.EMPTY_FILE


def test_zero_length_audio(tmp_path: Path) -> None:
    path = write(tmp_path / "zero.wav", np.zeros((0, 1), dtype=np.float32), 16_000)
    assert path.stat().st_size > 0  # a valid header, no samples
    assert _error_code(path) is ErrorCode.EMPTY_AUDIO


@pytest.mark.parametrize(
    "content",
    [
        b"this is a text file, not audio\n" * 20,
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        np.random.default_rng(0).bytes(50_000),
    ],
    ids=["text", "png", "random"],
)
def test_non_audio(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.wav"
    path.write_bytes(content)
    assert _error_code(path) is ErrorCode.INVALID_AUDIO_FORMAT


def test_corrupt_audio(tmp_path: Path, sample_wav: Path) -> None:
    source = write(tmp_path / "good.m4a", speech(sample_wav, 3.0, 16_000, 1), 16_000)
    path = tmp_path / "corrupt.m4a"
    data = source.read_bytes()
    path.write_bytes(data[:64] + bytes(len(data) - 64))  # header kept, everything else zeroed
    assert _error_code(path) is ErrorCode.INVALID_AUDIO_FORMAT


def test_truncated_wav_header(tmp_path: Path, sample_wav: Path) -> None:
    path = tmp_path / "truncated.wav"
    path.write_bytes(sample_wav.read_bytes()[:30])
    assert _error_code(path) is ErrorCode.INVALID_AUDIO_FORMAT


def test_video_without_audio(tmp_path: Path) -> None:
    path = tmp_path / "video.mp4"
    with av.open(str(path), "w") as output:
        stream = output.add_stream("mpeg4", rate=10)
        stream.width, stream.height = 32, 32
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    assert _error_code(path) is ErrorCode.INVALID_AUDIO_FORMAT


@pytest.mark.parametrize("extension", ["wav", "webm"])
def test_too_long(tmp_path: Path, sample_wav: Path, extension: str) -> None:
    rate = OPUS_RATE if extension == "webm" else 16_000
    path = write(tmp_path / f"long.{extension}", speech(sample_wav, 6.0, rate, 1), rate)
    assert _error_code(path, max_duration=5.0) is ErrorCode.AUDIO_TOO_LONG


def test_missing_file(tmp_path: Path) -> None:
    assert _error_code(tmp_path / "nope.wav") is ErrorCode.INVALID_AUDIO_FORMAT
