"""Diarization error rate against reference RTTM (pyannote.metrics: collar 0, overlap scored)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyannote.core import Annotation, Segment, Timeline
from pyannote.database.util import load_rttm, load_uem
from pyannote.metrics.diarization import DiarizationErrorRate

from shared.schemas.results import DiarizationOptions, DiarizationResult
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.engine.engine import DiarizationEngine

AUDIO_SUFFIXES = tuple(f".{ext}" for ext in Settings.model_fields["supported_formats"].default)


@dataclass(frozen=True)
class Score:
    uri: str
    total: float  # seconds of reference speech
    missed: float
    false_alarm: float
    confusion: float

    @property
    def der(self) -> float:
        return (self.missed + self.false_alarm + self.confusion) / self.total if self.total else 0.0

    def share(self, seconds: float) -> float:
        return seconds / self.total if self.total else 0.0


@dataclass(frozen=True)
class Reference:
    uri: str
    annotation: Annotation
    uem: Timeline | None


def load_references(rttm: Path, uem: Path | None = None) -> list[Reference]:
    annotations = load_rttm(str(rttm))
    regions = load_uem(str(uem)) if uem is not None else {}
    return [Reference(uri, annotations[uri], regions.get(uri)) for uri in sorted(annotations)]


def find_audio(audio_dir: Path, uri: str) -> Path | None:
    for suffix in AUDIO_SUFFIXES:
        candidate = audio_dir / f"{uri}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def to_annotation(result: DiarizationResult, uri: str) -> Annotation:
    annotation = Annotation(uri=uri)
    for index, turn in enumerate(result.turns):
        annotation[Segment(turn.start, turn.end), index] = turn.speaker
    return annotation


def score(reference: Reference, hypothesis: Annotation) -> Score:
    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    components = metric(reference.annotation, hypothesis, uem=reference.uem, detailed=True)
    return Score(
        uri=reference.uri,
        total=components["total"],
        missed=components["missed detection"],
        false_alarm=components["false alarm"],
        confusion=components["confusion"],
    )


def score_file(engine: DiarizationEngine, reference: Reference, audio: Path) -> Score:
    """Diarize `audio` with default options and score it against `reference`."""
    result = engine.diarize_file(audio, DiarizationOptions())
    return score(reference, to_annotation(result, reference.uri))


def overall(scores: list[Score]) -> Score:
    return Score(
        uri="TOTAL",
        total=sum(s.total for s in scores),
        missed=sum(s.missed for s in scores),
        false_alarm=sum(s.false_alarm for s in scores),
        confusion=sum(s.confusion for s in scores),
    )
