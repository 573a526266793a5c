"""HTTP API shapes (request fields and responses) of the gateway, also used for OpenAPI."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from shared.schemas.messages import ResultSummary, TaskRecord, TaskStatus

API_PREFIX = "/api/v1/diarize"


class ErrorResponse(BaseModel):
    error_code: str = Field(description="stable machine-readable code, e.g. UNSUPPORTED_FORMAT")
    message: str = Field(description="what went wrong, in words")


class UploadForm(BaseModel):
    """multipart/form-data fields of POST /upload (documentation of the form)."""

    audio_file: bytes = Field(description="the audio file (wav, flac, ogg, mp3, m4a, ...)")
    callback_url: str | None = Field(default=None, description="POSTed to on completion")
    num_speakers: int | None = Field(default=None, ge=1)
    min_speakers: int | None = Field(default=None, ge=1)
    max_speakers: int | None = Field(default=None, ge=1)
    exclusive: bool = Field(default=False, description="at most one speaker at a time")


class UploadResponse(BaseModel):
    task_id: str
    status: TaskStatus
    message: str
    status_url: str
    created_at: float


class TaskStatusResponse(BaseModel):
    task_id: str
    status: TaskStatus
    progress: float = Field(ge=0, le=100)
    message: str
    stage: str | None = None
    filename: str | None = None
    created_at: float
    updated_at: float
    started_at: float | None = None
    completed_at: float | None = None
    attempt: int = 0
    metadata: ResultSummary | None = Field(default=None, description="when completed")
    error: str | None = Field(default=None, description="when failed")
    error_code: str | None = Field(default=None, description="when failed")
    download_url: str | None = Field(default=None, description="when completed")

    @classmethod
    def of(cls, record: TaskRecord) -> TaskStatusResponse:
        completed = record.status is TaskStatus.COMPLETED
        return cls(
            task_id=record.task_id,
            status=record.status,
            progress=record.progress,
            message=record.message,
            stage=record.stage,
            filename=record.filename,
            created_at=record.created_at,
            updated_at=record.updated_at,
            started_at=record.started_at,
            completed_at=record.finished_at,
            attempt=record.attempt,
            metadata=record.summary if completed else None,
            error=record.error,
            error_code=record.error_code,
            download_url=f"{API_PREFIX}/download/{record.task_id}" if completed else None,
        )


class DeleteResponse(BaseModel):
    task_id: str
    status: Literal["cancelled", "cancelling", "deleted"]
    message: str


class HealthResponse(BaseModel):
    status: Literal["ok"]
    service: str
    version: str


class WorkerInfo(BaseModel):
    worker_id: str
    host: str = ""
    pid: int = 0
    engine: str = ""
    model: str = ""
    device: str = ""
    concurrency: int = 0
    in_flight: int = 0
    metrics_port: int = 0
    last_seen: float = 0.0


class ReadyResponse(BaseModel):
    ready: bool
    redis: bool
    workers_alive: int
    engine_loaded: bool
    workers: list[WorkerInfo]
    queue_waiting: int
    queue_pending: int
    message: str
