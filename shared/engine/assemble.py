"""Turn pyannote's output into the service's `DiarizationResult`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyannote.core import Annotation, Segment, SlidingWindowFeature

from shared.schemas.results import (
    AudioInfo,
    DiarizationOptions,
    DiarizationResult,
    EngineInfo,
    OverlapRegion,
    SpeakerSummary,
    SpeakerTurn,
)

_DECIMALS = 3


@dataclass
class SpeakerActivity:
    """Per-speaker activity posteriors over time, one column per output speaker."""

    activations: SlidingWindowFeature
    # column of `activations` for the i-th output label (labels in sorted order)
    columns: list[int]

    def confidence(self, label_index: int, start: float, end: float) -> float:
        if label_index >= len(self.columns):
            return 0.0
        column = self.columns[label_index]
        if column >= self.activations.data.shape[1]:
            return 0.0
        window = self.activations.crop(Segment(start, end), mode="loose")
        if window.size == 0:
            return 0.0
        return float(np.clip(np.nanmean(window[:, column]), 0.0, 1.0))


@dataclass
class RunOutput:
    diarization: Annotation
    exclusive: Annotation
    activity: SpeakerActivity | None


def assemble(
    run: RunOutput,
    audio: AudioInfo,
    engine: EngineInfo,
    options: DiarizationOptions,
    processing_time: float,
) -> DiarizationResult:
    output = run.exclusive if options.exclusive else run.diarization
    labels = run.diarization.labels()  # pyannote returns them sorted
    turns = _turns(output, labels, run.activity)
    return DiarizationResult(
        uri=output.uri or "",
        audio=audio,
        engine=engine,
        options=options,
        num_speakers=len(labels),
        speakers=_summaries(turns, labels, audio.duration),
        turns=turns,
        overlaps=_overlaps(run.diarization),
        processing_time=round(processing_time, _DECIMALS),
        real_time_factor=round(processing_time / audio.duration, 4) if audio.duration else 0.0,
    )


def _turns(
    annotation: Annotation, labels: list[str], activity: SpeakerActivity | None
) -> list[SpeakerTurn]:
    index = {label: i for i, label in enumerate(labels)}
    turns = []
    for segment, _, label in annotation.itertracks(yield_label=True):
        confidence = 0.0
        if activity is not None:
            confidence = activity.confidence(index[label], segment.start, segment.end)
        turns.append(
            SpeakerTurn(
                start=round(segment.start, _DECIMALS),
                end=round(segment.end, _DECIMALS),
                speaker=str(label),
                confidence=round(confidence, 4),
            )
        )
    return sorted(turns, key=lambda turn: (turn.start, turn.end, turn.speaker))


def _summaries(
    turns: list[SpeakerTurn], labels: list[str], duration: float
) -> list[SpeakerSummary]:
    summaries = []
    for label in labels:
        own = [turn for turn in turns if turn.speaker == label]
        total = sum(turn.duration for turn in own)
        summaries.append(
            SpeakerSummary(
                speaker=label,
                total_duration=round(total, _DECIMALS),
                num_turns=len(own),
                percentage=round(100.0 * total / duration, 2) if duration else 0.0,
            )
        )
    return summaries


def _overlaps(annotation: Annotation) -> list[OverlapRegion]:
    regions = []
    for segment in annotation.get_overlap().support():
        speakers = sorted(str(label) for label in annotation.crop(segment).labels())
        regions.append(
            OverlapRegion(
                start=round(segment.start, _DECIMALS),
                end=round(segment.end, _DECIMALS),
                speakers=speakers,
            )
        )
    return regions
