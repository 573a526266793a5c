"""Audio in: probe a file's header, decode it to 16 kHz mono float32, or stream it as is.

soundfile (libsndfile) reads wav, flac, ogg and mp3; PyAV (FFmpeg) reads everything else
(m4a, aac, mp4, webm, opus). Decoding streams block by block: channels are averaged and
each block goes through one streaming soxr resampler, so memory stays near the size of
the 16 kHz output. No torch here: the gateway imports this module to validate uploads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from shared.errors import (
    AudioTooLongError,
    EmptyAudioError,
    EmptyFileError,
    InvalidAudioError,
)
from shared.schemas.results import AudioInfo

TARGET_SAMPLE_RATE = 16_000
_BLOCK_FRAMES = 1 << 16
# FFmpeg demuxers report several aliases ("mov,mp4,m4a,3gp,3g2,mj2"): name them plainly.
_CONTAINER_NAMES = {"mov": "mp4", "matroska": "webm"}


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # (num_samples,) float32, mono, TARGET_SAMPLE_RATE
    info: AudioInfo


# Yields (frames, channels) float32 blocks at the file's own sample rate.
BlockReader = Callable[[Path], Iterator[np.ndarray]]


def probe(path: Path, max_duration: float, filename: str | None = None) -> AudioInfo:
    """Read the header only; raise a typed error for anything the engine could not use."""
    info, _ = _probe(path, max_duration, filename)
    return info


def decode(path: Path, max_duration: float, filename: str | None = None) -> DecodedAudio:
    """Decode the whole file to 16 kHz mono float32 (see module docstring)."""
    info, read_blocks = _probe(path, max_duration, filename)
    mono = (block.mean(axis=1) for block in read_blocks(path))
    # resampling may add a few samples at the end: one spare second avoids a regrowth
    expected = math.ceil((info.duration + 1.0) * TARGET_SAMPLE_RATE)
    samples = _resample_stream(mono, info.original_sample_rate, max_duration, expected)
    if samples.size == 0:
        raise EmptyAudioError(f"{info.filename} contains no audio samples")
    duration = samples.size / TARGET_SAMPLE_RATE
    return DecodedAudio(samples=samples, info=info.model_copy(update={"duration": duration}))


def original_blocks(path: Path, max_duration: float) -> tuple[AudioInfo, Iterator[np.ndarray]]:
    """The file as recorded: its header, and (frames, channels) float32 blocks in order."""
    info, read_blocks = _probe(path, max_duration, None)
    return info, read_blocks(path)


def _probe(path: Path, max_duration: float, filename: str | None) -> tuple[AudioInfo, BlockReader]:
    size = _checked_size(path)
    name = filename or path.name
    try:
        info, reader = _probe_soundfile(path, name, size), _soundfile_blocks
    except sf.LibsndfileError:
        info, reader = _probe_pyav(path, name, size), _pyav_blocks
    _check_duration(info.duration, max_duration)
    return info, reader


def _checked_size(path: Path) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError as error:
        raise InvalidAudioError(f"audio file not found: {path.name}") from error
    if size == 0:
        raise EmptyFileError(f"{path.name} is empty (0 bytes)")
    return size


def _check_duration(duration: float, max_duration: float) -> None:
    if duration > max_duration:
        raise AudioTooLongError(
            f"audio lasts {duration:.0f} s, longer than the {max_duration:.0f} s allowed"
        )


def _probe_soundfile(path: Path, name: str, size: int) -> AudioInfo:
    info = sf.info(str(path))
    if info.frames <= 0 or info.samplerate <= 0:
        raise EmptyAudioError(f"{name} contains no audio samples")
    return AudioInfo(
        filename=name,
        format=info.format.lower(),
        codec=info.subtype.lower(),
        duration=info.frames / info.samplerate,
        original_sample_rate=info.samplerate,
        original_channels=info.channels,
        sample_rate=TARGET_SAMPLE_RATE,
        size_bytes=size,
    )


def _probe_pyav(path: Path, name: str, size: int) -> AudioInfo:
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = _audio_stream(container, name)
            duration = _declared_duration(container, stream)
            container_name = container.format.name.split(",")[0]
            return AudioInfo(
                filename=name,
                format=_CONTAINER_NAMES.get(container_name, container_name),
                codec=stream.codec_context.name,
                duration=duration,
                original_sample_rate=stream.codec_context.sample_rate,
                original_channels=stream.codec_context.channels,
                sample_rate=TARGET_SAMPLE_RATE,
                size_bytes=size,
            )
    except av.FFmpegError as error:
        raise InvalidAudioError(f"{name} is not a readable audio file ({error})") from error


def _audio_stream(container: av.container.InputContainer, name: str) -> av.AudioStream:
    streams = container.streams.audio
    if not streams:
        raise InvalidAudioError(f"{name} has no audio stream")
    stream = streams[0]
    if not stream.codec_context.sample_rate or not stream.codec_context.channels:
        raise InvalidAudioError(f"{name}: audio stream has no sample rate or channels")
    return stream


def _declared_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    """Duration from the header; 0.0 when the container does not say (checked on decode)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _soundfile_blocks(path: Path) -> Iterator[np.ndarray]:
    try:
        yield from sf.blocks(str(path), blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True)
    except sf.LibsndfileError as error:
        raise InvalidAudioError(f"{path.name} is corrupt ({error})") from error


def _pyav_blocks(path: Path) -> Iterator[np.ndarray]:
    # Whatever the codec's sample format, ask for planar float: rows are channels.
    to_planar = av.AudioResampler(format="fltp")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            for frame in container.decode(stream):
                for planar in to_planar.resample(frame):
                    yield planar.to_ndarray().T
            for planar in to_planar.resample(None):
                yield planar.to_ndarray().T
    except av.FFmpegError as error:
        raise InvalidAudioError(f"{path.name} is corrupt ({error})") from error


def _resample_stream(
    blocks: Iterator[np.ndarray], rate: int, max_duration: float, expected: int
) -> np.ndarray:
    """Resample mono blocks to TARGET_SAMPLE_RATE, enforcing the duration limit as we go.

    `expected` (samples, from the header) sizes the output up front: blocks are copied
    into it as they come, so the audio is held once rather than as blocks plus their join.
    """
    resampler = None
    if rate != TARGET_SAMPLE_RATE:
        resampler = soxr.ResampleStream(rate, TARGET_SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    samples = _SampleBuffer(expected)
    for block in blocks:
        out = block if resampler is None else resampler.resample_chunk(block)
        samples.append(out)
        # Headers can lie or be silent about duration (streamed webm): count as we go.
        _check_duration(samples.size / TARGET_SAMPLE_RATE, max_duration)
    if resampler is not None:
        samples.append(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    return np.nan_to_num(samples.result(), nan=0.0, posinf=0.0, neginf=0.0, copy=False)


class _SampleBuffer:
    """float32 samples appended in place; grows by half when a header undercounted."""

    def __init__(self, capacity: int) -> None:
        self._data = np.empty(max(capacity, 0), dtype=np.float32)
        self.size = 0

    def append(self, block: np.ndarray) -> None:
        end = self.size + block.size
        if end > self._data.size:
            grown = np.empty(max(end, self._data.size * 3 // 2), dtype=np.float32)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : end] = block
        self.size = end

    def result(self) -> np.ndarray:
        return self._data[: self.size]
