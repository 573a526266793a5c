"""Each speaker's audio, cut from the original recording in one streaming pass.

Layout (the one the previous service's ZIP had, plus one track per speaker):

    speaker_0/segment_001.wav, speaker_0/segment_002.wav, ...   one file per turn
    speaker_0.wav                                                 the speaker's turns, end to end

Files keep the recording's sample rate and channels (16-bit PCM WAV).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from shared.audio import original_blocks
from shared.schemas.results import DiarizationResult, SegmentEntry, SpeakerEntry

SUBTYPE = "PCM_16"


def plan(result: DiarizationResult) -> list[SpeakerEntry]:
    """Names of every file, in speaker order; turns numbered from 001 in time order."""
    speakers = []
    for index, label in enumerate(result.speaker_labels):
        folder = f"speaker_{index}"
        turns = [turn for turn in result.turns if turn.speaker == label]
        segments = [
            SegmentEntry(
                file=f"{folder}/segment_{n:03d}.wav",
                speaker=label,
                start=turn.start,
                end=turn.end,
                confidence=turn.confidence,
            )
            for n, turn in enumerate(turns, start=1)
        ]
        speakers.append(
            SpeakerEntry(speaker=label, folder=folder, track=f"{folder}.wav", segments=segments)
        )
    return speakers


def write_speaker_audio(
    source: Path, result: DiarizationResult, out_dir: Path
) -> list[SpeakerEntry]:
    """Write every file of `plan(result)` under `out_dir`, reading `source` once."""
    speakers = plan(result)
    info, blocks = original_blocks(source, max_duration=float("inf"))
    for speaker in speakers:
        (out_dir / speaker.folder).mkdir(parents=True, exist_ok=True)
    with _Cutter(out_dir, info.original_sample_rate, info.original_channels, speakers) as cutter:
        for block in blocks:
            cutter.feed(block)
    return speakers


@dataclass
class _Cut:
    segment: SegmentEntry
    first: int  # sample frames, end exclusive
    last: int
    writer: sf.SoundFile | None = None


class _Cutter:
    """Routes consecutive blocks of the recording to the files of the turns they cover."""

    def __init__(self, out_dir: Path, rate: int, channels: int, speakers: list[SpeakerEntry]):
        self._out_dir, self._rate, self._channels = out_dir, rate, channels
        self._cuts = sorted(
            (
                _Cut(segment, round(segment.start * rate), max(round(segment.end * rate), 1))
                for speaker in speakers
                for segment in speaker.segments
            ),
            key=lambda cut: cut.first,
        )
        self._tracks = {s.speaker: self._open(s.track) for s in speakers}
        self._pending = 0
        self._open_cuts: list[_Cut] = []
        self._position = 0

    def __enter__(self) -> _Cutter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for cut in self._open_cuts:
            cut.writer.close()
        # turns that start past the decoded end (rounding): keep their (empty) file
        for cut in self._cuts[self._pending :]:
            self._open(cut.segment.file).close()
        for track in self._tracks.values():
            track.close()

    def feed(self, block: np.ndarray) -> None:
        end = self._position + len(block)
        while self._pending < len(self._cuts) and self._cuts[self._pending].first < end:
            cut = self._cuts[self._pending]
            cut.writer = self._open(cut.segment.file)
            self._open_cuts.append(cut)
            self._pending += 1
        for cut in self._open_cuts:
            piece = block[max(cut.first - self._position, 0) : max(cut.last - self._position, 0)]
            # lossy decoders overshoot full scale slightly; PCM would wrap around
            piece = np.clip(piece, -1.0, 1.0)
            cut.writer.write(piece)
            self._tracks[cut.segment.speaker].write(piece)
        for cut in self._open_cuts:
            if cut.last <= end:
                cut.writer.close()
        self._open_cuts = [cut for cut in self._open_cuts if cut.last > end]
        self._position = end

    def _open(self, relative: str) -> sf.SoundFile:
        return sf.SoundFile(
            self._out_dir / relative, "w", self._rate, self._channels, subtype=SUBTYPE
        )
