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
    # request
    INVALID_PARAMETERS = "INVALID_PARAMETERS"
    # engine
    MODEL_NOT_AVAILABLE = "MODEL_NOT_AVAILABLE"
    JOB_CANCELLED = "JOB_CANCELLED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class DiarizationError(Exception):
    """Base of every error this service reports to a user."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error_code": self.code.value, "message": self.message}


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


class JobCancelledError(DiarizationError):
    """Raised from inside inference when the job must stop (cancel, timeout, lost lease)."""

    code = ErrorCode.JOB_CANCELLED
    status = HTTPStatus.CONFLICT
