"""What travels through Redis: job entries, status events, the per-task hash.

Field names and meanings are a public protocol (docs/streams.md): other services XADD
jobs and read events and task hashes directly.
"""

from __future__ import annotations

import time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.errors import InvalidJobError
from shared.schemas.redis_codec import RawFields, decode_fields
from shared.schemas.results import (
    MAX_SPEAKERS_LIMIT,
    DiarizationOptions,
    SpeakerSummary,
    describe_validation_error,
)

TASK_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


class TaskStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}


class JobMessage(BaseModel):
    """One entry of the jobs stream. Only `audio` is required (see docs/streams.md)."""

    model_config = ConfigDict(extra="ignore")

    # Defaults to the stream entry id when absent (XADD's reply tells it).
    task_id: str | None = Field(default=None, pattern=TASK_ID_PATTERN)
    # A key under the storage root ("uploads/<id>.wav") or an http(s) URL to download.
    audio: str = Field(min_length=1, max_length=4096)
    filename: str | None = Field(default=None, max_length=512)
    num_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS_LIMIT)
    min_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS_LIMIT)
    max_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS_LIMIT)
    exclusive: bool = False
    callback_url: str | None = Field(default=None, max_length=2048)
    idempotency_key: str | None = Field(default=None, max_length=256)
    # Who submitted it (hashed API key); empty for anonymous submissions.
    owner: str = ""
    submitted_at: float = Field(default_factory=time.time)

    @field_validator("audio")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        if any(ord(character) < 32 for character in value):
            raise ValueError("audio must not contain control characters")
        return value

    @classmethod
    def from_entry(cls, fields: RawFields) -> JobMessage:
        """Parse a stream entry written by anyone; bad entries raise INVALID_JOB."""
        try:
            return decode_fields(cls, fields)
        except ValidationError as error:
            raise InvalidJobError(f"invalid job: {describe_validation_error(error)}") from error

    def options(self) -> DiarizationOptions:
        try:
            return DiarizationOptions(
                num_speakers=self.num_speakers,
                min_speakers=self.min_speakers,
                max_speakers=self.max_speakers,
                exclusive=self.exclusive,
            )
        except ValidationError as error:
            raise InvalidJobError(f"invalid job: {describe_validation_error(error)}") from error


class ResultSummary(BaseModel):
    """What a completed task's status reports without opening the result files."""

    num_speakers: int
    speakers: list[SpeakerSummary]
    duration: float
    processing_time: float  # engine: decoding and diarization
    real_time_factor: float
    # writing and storing the result files (per-speaker audio, ZIP, timeline) after the engine
    store_time: float = 0.0
    engine: str
    model: str


class TaskEvent(BaseModel):
    """One entry of the events stream (and of the task's own events stream)."""

    task_id: str
    status: TaskStatus
    progress: float = Field(ge=0, le=100)
    message: str = ""
    stage: str | None = None
    error_code: str | None = None
    error: str | None = None
    summary: ResultSummary | None = None
    attempt: int | None = None
    timestamp: float = Field(default_factory=time.time)

    @classmethod
    def from_entry(cls, fields: RawFields) -> TaskEvent:
        return decode_fields(cls, fields)


class TaskRecord(BaseModel):
    """The per-task hash: the single source of truth for a task's state."""

    task_id: str
    status: TaskStatus
    progress: float = 0.0
    message: str = ""
    stage: str | None = None
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    filename: str | None = None
    audio: str
    options: DiarizationOptions = DiarizationOptions()
    owner: str = ""
    # who submitted it, for per-client limits ("key:<tenant>" or "ip:<address>")
    client: str = ""
    callback_url: str | None = None
    entry_id: str | None = None
    attempt: int = 0
    worker: str | None = None
    error_code: str | None = None
    error: str | None = None
    summary: ResultSummary | None = None
    # storage prefix of the winning attempt's result files (set on completion)
    result_prefix: str | None = None
    cancel_requested: bool = False

    @classmethod
    def queued(
        cls, task_id: str, job: JobMessage, options: DiarizationOptions | None, *,
        created_at: float, client: str = "",
    ) -> TaskRecord:  # fmt: skip
        """A new task's hash, from its job. Built without validation: the job already
        passed it, or is the placeholder of an invalid entry that must still be recorded."""
        fields = {"options": options} if options is not None else {}
        return cls.model_construct(
            **fields, task_id=task_id, status=TaskStatus.QUEUED, progress=0.0, client=client,
            message="queued", created_at=created_at, updated_at=time.time(),
            filename=job.filename, audio=job.audio, owner=job.owner,
            callback_url=job.callback_url,
        )  # fmt: skip

    @classmethod
    def from_hash(cls, fields: RawFields) -> TaskRecord:
        return decode_fields(cls, fields)
