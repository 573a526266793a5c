"""What a diarization produces: options in, one result model out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import InvalidParametersError

MAX_SPEAKERS_LIMIT = 64


class DiarizationOptions(BaseModel):
    """Speaker-count hints and output shape requested for one job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS_LIMIT)
    min_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS_LIMIT)
    max_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS_LIMIT)
    # Exclusive output: at most one speaker at any time (handy for transcript alignment).
    exclusive: bool = False

    @model_validator(mode="after")
    def _consistent_counts(self) -> Self:
        low, high = self.min_speakers, self.max_speakers
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_speakers ({low}) must not exceed max_speakers ({high})")
        if self.num_speakers is not None:
            if low is not None and self.num_speakers < low:
                raise ValueError("num_speakers must not be below min_speakers")
            if high is not None and self.num_speakers > high:
                raise ValueError("num_speakers must not be above max_speakers")
        return self

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> DiarizationOptions:
        """Validate user input, turning every failure into INVALID_PARAMETERS."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as error:
            raise InvalidParametersError(describe_validation_error(error)) from error


def describe_validation_error(error: ValidationError) -> str:
    """One readable line per problem: 'field: what is wrong'."""
    parts = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(item) for item in problem["loc"]) or "input"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


class AudioInfo(BaseModel):
    """The input as received and as analysed."""

    filename: str
    format: str
    codec: str | None = None
    duration: float = Field(description="seconds")
    original_sample_rate: int
    original_channels: int
    sample_rate: int = Field(description="rate the engine analysed, Hz")
    size_bytes: int


class EngineInfo(BaseModel):
    """Which engine and model produced a result."""

    engine: str
    model: str
    version: str
    device: str


class SpeakerTurn(BaseModel):
    start: float
    end: float
    speaker: str
    # Mean posterior probability, from the segmentation model, that this speaker is active
    # over the turn (aggregated across the overlapping analysis windows).
    confidence: float = Field(ge=0.0, le=1.0)

    @property
    def duration(self) -> float:
        return self.end - self.start


class OverlapRegion(BaseModel):
    start: float
    end: float
    speakers: list[str]


class SpeakerSummary(BaseModel):
    speaker: str
    total_duration: float
    num_turns: int
    percentage: float = Field(description="share of the audio's duration, 0-100")


class DiarizationResult(BaseModel):
    """The one shape every writer (JSON, RTTM, ZIP, PNG) and every API reads."""

    uri: str
    audio: AudioInfo
    engine: EngineInfo
    options: DiarizationOptions
    num_speakers: int
    speakers: list[SpeakerSummary]
    turns: list[SpeakerTurn]
    overlaps: list[OverlapRegion]
    processing_time: float = Field(description="seconds of engine time")
    real_time_factor: float = Field(description="processing time / audio duration")

    @property
    def speaker_labels(self) -> list[str]:
        return [summary.speaker for summary in self.speakers]


class SegmentEntry(BaseModel):
    """One turn's audio file inside the result bundle."""

    file: str
    speaker: str
    start: float
    end: float
    confidence: float


class SpeakerEntry(BaseModel):
    speaker: str
    folder: str
    track: str = Field(description="all of this speaker's turns, end to end")
    segments: list[SegmentEntry]


class BundleMetadata(BaseModel):
    """metadata.json of the ZIP (and of split-audio's output folder)."""

    uri: str
    audio: AudioInfo
    engine: EngineInfo
    num_speakers: int
    speakers: list[SpeakerEntry]
    overlaps: list[OverlapRegion]
    processing_time: float
    real_time_factor: float
    files: dict[str, str] = Field(description="the bundle's other files, by role")

    def audio_files(self) -> set[str]:
        """Every audio file of the bundle: each speaker's track and each turn's segment."""
        tracks = {speaker.track for speaker in self.speakers}
        return tracks | {segment.file for s in self.speakers for segment in s.segments}
