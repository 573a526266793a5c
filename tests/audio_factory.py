"""Audio files for tests, generated from real speech (pyannote's sample) in every format."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

# extension -> (container for PyAV, codec); the rest are written by soundfile
PYAV_FORMATS = {
    "m4a": ("ipod", "aac"),
    "aac": ("adts", "aac"),
    "mp4": ("mp4", "aac"),
    "webm": ("webm", "libopus"),
    "opus": ("ogg", "libopus"),
}
SOUNDFILE_FORMATS = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}
OPUS_RATE = 48_000  # libopus only encodes at 8, 12, 16, 24 or 48 kHz


def speech(source: Path, seconds: float, rate: int, channels: int) -> np.ndarray:
    """(frames, channels) float32: the first `seconds` of `source`, resampled and spread
    over `channels` with a different gain per channel (so a downmix is not a copy)."""
    mono, source_rate = sf.read(str(source), dtype="float32", frames=int(seconds * 16_000))
    if source_rate != rate:
        mono = soxr.resample(mono, source_rate, rate)
    gains = np.linspace(1.0, 0.5, channels, dtype=np.float32)
    return (mono[:, None] * gains[None, :]).astype(np.float32)


def write(path: Path, samples: np.ndarray, rate: int) -> Path:
    extension = path.suffix.lstrip(".")
    if extension in SOUNDFILE_FORMATS:
        container, subtype = SOUNDFILE_FORMATS[extension]
        sf.write(str(path), samples, rate, format=container, subtype=subtype)
    else:
        container, codec = PYAV_FORMATS[extension]
        _write_pyav(path, samples, rate, container, codec)
    return path


def _write_pyav(path: Path, samples: np.ndarray, rate: int, container: str, codec: str) -> None:
    channels = samples.shape[1]
    layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels}.0")
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream(codec, rate=rate, layout=layout)
        sample_format = stream.codec_context.codec.audio_formats[0].name
        for start in range(0, len(samples), 960):
            chunk = samples[start : start + 960]
            frame = _frame(chunk, sample_format, layout, rate)
            frame.pts = start
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)


def _frame(chunk: np.ndarray, sample_format: str, layout: str, rate: int) -> av.AudioFrame:
    # planar: one row per channel; packed: channels interleaved in one row
    planar = sample_format.endswith("p")
    data = np.ascontiguousarray(chunk.T) if planar else chunk.reshape(1, -1)
    if sample_format.startswith("s16"):
        data = (np.clip(data, -1, 1) * 32767).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(data, format=sample_format, layout=layout)
    frame.sample_rate = rate
    return frame
