"""Domain errors: each carries a stable error code and the HTTP status it maps to.

Codes are part of the public API (HTTP bodies, task hashes, events): never rename one.
"""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus


class ErrorCode(StrEnum):
    # input audio
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    INVALID_AUDIO_FORMAT = "INVALID_AUDIO_FORMAT"
    EMPTY_FILE = "EMPTY_FILE"
    EMPTY_AUDIO = "EMPTY_AUDIO"
    AUDIO_TOO_LONG = "AUDIO_TOO_LONG"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    AUDIO_DOWNLOAD_FAILED = "AUDIO_DOWNLOAD_FAILED"
    # request
    INVALID_PARAMETERS = "INVALID_PARAMETERS"
    INVALID_REQUEST = "INVALID_REQUEST"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    UNAUTHORIZED = "UNAUTHORIZED"
    RATE_LIMITED = "RATE_LIMITED"
    TOO_MANY_TASKS = "TOO_MANY_TASKS"
    TASK_NOT_READY = "TASK_NOT_READY"
    FILE_NOT_FOUND = "FILE_NOT_FOUND"
    # jobs
    INVALID_JOB = "INVALID_JOB"
    JOB_CANCELLED = "JOB_CANCELLED"
    TASK_TIMEOUT = "TASK_TIMEOUT"
    MAX_DELIVERIES_EXCEEDED = "MAX_DELIVERIES_EXCEEDED"
    # service
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    QUEUE_FULL = "QUEUE_FULL"
    STORAGE_FULL = "STORAGE_FULL"
    MODEL_NOT_AVAILABLE = "MODEL_NOT_AVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class DiarizationError(Exception):
    """Base of every error this service reports to a user."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        # seconds after which a retry may succeed (sent as Retry-After)
        self.retry_after = retry_after


class AudioError(DiarizationError):
    """The audio itself cannot be used."""

    code = ErrorCode.INVALID_AUDIO_FORMAT
    status = HTTPStatus.BAD_REQUEST


class UnsupportedFormatError(AudioError):
    code = ErrorCode.UNSUPPORTED_FORMAT
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class InvalidAudioError(AudioError):
    """Corrupt, truncated or not audio at all."""

    code = ErrorCode.INVALID_AUDIO_FORMAT
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class EmptyFileError(AudioError):
    code = ErrorCode.EMPTY_FILE


class EmptyAudioError(AudioError):
    """A well-formed container with no samples in it."""

    code = ErrorCode.EMPTY_AUDIO


class AudioTooLongError(AudioError):
    code = ErrorCode.AUDIO_TOO_LONG
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class FileTooLargeError(AudioError):
    code = ErrorCode.FILE_TOO_LARGE
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class InvalidParametersError(DiarizationError):
    code = ErrorCode.INVALID_PARAMETERS
    status = HTTPStatus.BAD_REQUEST


class ModelNotAvailableError(DiarizationError):
    """The configured engine or model cannot be loaded."""

    code = ErrorCode.MODEL_NOT_AVAILABLE
    status = HTTPStatus.SERVICE_UNAVAILABLE


class AudioDownloadError(AudioError):
    """A job's http(s) audio URL could not be fetched."""

    code = ErrorCode.AUDIO_DOWNLOAD_FAILED
    status = HTTPStatus.BAD_GATEWAY


class InvalidRequestError(DiarizationError):
    code = ErrorCode.INVALID_REQUEST
    status = HTTPStatus.BAD_REQUEST


class TaskNotFoundError(DiarizationError):
    code = ErrorCode.TASK_NOT_FOUND
    status = HTTPStatus.NOT_FOUND


class ResultFileNotFoundError(DiarizationError):
    """A completed task's result has no file of that name (or none that may be served)."""

    code = ErrorCode.FILE_NOT_FOUND
    status = HTTPStatus.NOT_FOUND


class TaskNotReadyError(DiarizationError):
    """The task exists but has no result (yet, or ever)."""

    code = ErrorCode.TASK_NOT_READY
    status = HTTPStatus.CONFLICT


class InvalidJobError(DiarizationError):
    """A jobs-stream entry that cannot be processed (missing fields, garbage, bad audio ref)."""

    code = ErrorCode.INVALID_JOB
    status = HTTPStatus.BAD_REQUEST


class ServiceUnavailableError(DiarizationError):
    """Redis (or another dependency) is unreachable: try again later."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    status = HTTPStatus.SERVICE_UNAVAILABLE


class QueueFullError(DiarizationError):
    """The backlog is at MAX_QUEUE_LENGTH: retry after a while."""

    code = ErrorCode.QUEUE_FULL
    status = HTTPStatus.TOO_MANY_REQUESTS


class UnauthorizedError(DiarizationError):
    code = ErrorCode.UNAUTHORIZED
    status = HTTPStatus.UNAUTHORIZED


class RateLimitedError(DiarizationError):
    """This client sent more uploads in the last hour than MAX_UPLOADS_PER_HOUR."""

    code = ErrorCode.RATE_LIMITED
    status = HTTPStatus.TOO_MANY_REQUESTS


class TooManyTasksError(DiarizationError):
    """This client has MAX_ACTIVE_TASKS_PER_CLIENT tasks queued or running already."""

    code = ErrorCode.TOO_MANY_TASKS
    status = HTTPStatus.TOO_MANY_REQUESTS


class StorageFullError(DiarizationError):
    """The storage volume is full: nothing was accepted."""

    code = ErrorCode.STORAGE_FULL
    status = HTTPStatus.INSUFFICIENT_STORAGE


class JobCancelledError(DiarizationError):
    """Raised from inside inference when the job must stop (cancel, timeout, lost lease)."""

    code = ErrorCode.JOB_CANCELLED
    status = HTTPStatus.CONFLICT


class TaskTimeoutError(DiarizationError):
    code = ErrorCode.TASK_TIMEOUT
    status = HTTPStatus.GATEWAY_TIMEOUT


class MaxDeliveriesError(DiarizationError):
    """A job that stopped its worker MAX_DELIVERIES times: a poison job."""

    code = ErrorCode.MAX_DELIVERIES_EXCEEDED
    status = HTTPStatus.UNPROCESSABLE_ENTITY
