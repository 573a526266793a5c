"""Reading a multipart upload: the file streams to disk (never whole in memory), the size
limit cuts it off mid-stream, and the other form fields are collected as text."""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from shared.errors import (
    FileTooLargeError,
    InvalidRequestError,
    StorageFullError,
    UnsupportedFormatError,
)
from shared.storage import Storage

FILE_FIELD = "audio_file"
TEXT_FIELDS = ("callback_url", "num_speakers", "min_speakers", "max_speakers", "exclusive")
_CHUNK = 1 << 16
_MAX_TEXT_FIELD = 4096


@dataclass
class ReceivedUpload:
    """A form whose file sits in a scratch file that the caller must move or delete."""

    path: Path
    filename: str
    suffix: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)


def audio_suffix(filename: str, supported: list[str]) -> str:
    """The lower-cased extension, if supported; the name itself never reaches the disk."""
    suffix = PurePath(filename).suffix.lower()
    if suffix.lstrip(".") not in supported:
        allowed = ", ".join(supported)
        raise UnsupportedFormatError(
            f"'{suffix or filename}' is not supported (allowed: {allowed})"
        )
    return suffix


async def receive_upload(
    request: web.Request, storage: Storage, max_bytes: int, supported: list[str]
) -> ReceivedUpload:
    """Stream the form's parts; the caller owns the returned scratch file."""
    if not request.content_type.startswith("multipart/"):
        raise InvalidRequestError("send the audio as multipart/form-data (field 'audio_file')")
    fields: dict[str, str] = {}
    upload: ReceivedUpload | None = None
    try:
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                raise InvalidRequestError("nested multipart bodies are not accepted")
            if part.name == FILE_FIELD and part.filename is not None and upload is None:
                upload = await _save_file(part, storage, max_bytes, supported)
            elif part.name in TEXT_FIELDS:
                fields[part.name] = (
                    (await part.read(decode=True))[:_MAX_TEXT_FIELD]
                    .decode("utf-8", errors="replace")
                    .strip()
                )
            else:
                await part.release()
    except (HttpProcessingError, ValueError, AssertionError) as error:
        # aiohttp's multipart reader raises these for malformed bodies
        if upload is not None:
            upload.path.unlink(missing_ok=True)
        raise InvalidRequestError(f"malformed multipart body: {error}") from error
    except BaseException:
        if upload is not None:
            upload.path.unlink(missing_ok=True)
        raise
    if upload is None:
        raise InvalidRequestError("the form has no 'audio_file' file field")
    upload.fields = fields
    return upload


async def _save_file(
    part: BodyPartReader, storage: Storage, max_bytes: int, supported: list[str]
) -> ReceivedUpload:
    filename = part.filename or ""
    suffix = audio_suffix(filename, supported)
    path = storage.scratch_path(suffix)
    size = 0
    try:
        with path.open("wb") as stream:
            while chunk := await part.read_chunk(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLargeError(
                        f"the file is larger than the {max_bytes // (1024 * 1024)} MB allowed"
                    )
                stream.write(chunk)
    except OSError as error:
        path.unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFullError("the server's storage is full: try again later") from error
        raise
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    name = PurePath(filename).name[-255:]  # kept for display only, never as a path
    return ReceivedUpload(path=path, filename=name, suffix=suffix, size=size)
