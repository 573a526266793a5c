"""One audio file of a completed task: GET /api/v1/diarize/audio/{task_id}?file=<name>.

Each speaker's track (speaker_N.wav) and each turn's segment (speaker_N/segment_NNN.wav)
exist only inside result.zip. WAV members are stored uncompressed there
(shared/export/bundle.py), so a member is a plain byte span of the ZIP file and is served
from it directly, with byte ranges (browsers need them to seek in an <audio> element),
whatever the storage: a local file, or ranged GETs of the object in S3.
Only the audio files listed in the result's metadata.json can be asked for: nothing else
of the storage is reachable through `file`.
"""

from __future__ import annotations

import asyncio
import struct
import zipfile
from dataclasses import dataclass

from aiohttp import hdrs, web

from producer.auth import TENANT
from producer.context import GATEWAY
from shared.errors import (
    DiarizationError,
    InvalidParametersError,
    ResultFileNotFoundError,
    ServiceUnavailableError,
)
from shared.export.files import METADATA_FILE, ZIP_FILE
from shared.schemas.api import API_PREFIX
from shared.schemas.results import BundleMetadata
from shared.storage import Storage

routes = web.RouteTableDef()

_CHUNK = 1 << 18
# ZIP local file header: signature, 22 bytes we do not need, name length, extra length.
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"


@dataclass(frozen=True)
class Span:
    """Where a member's bytes lie in the ZIP file."""

    key: str  # of the ZIP in storage
    offset: int
    size: int


@routes.get(f"{API_PREFIX}/audio/{{task_id}}")
async def audio(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    record = await gateway.completed_task(request.match_info["task_id"], request.get(TENANT, ""))
    name = request.query.get("file", "")
    if not name:
        raise InvalidParametersError("file is required, e.g. ?file=speaker_0.wav")
    span = await asyncio.to_thread(locate, gateway.storage, record.result_prefix, name)
    headers = {
        "Content-Type": "audio/wav",
        "Accept-Ranges": "bytes",
        # the name is one of the result's own (checked above), never the user's upload name
        "Content-Disposition": f'inline; filename="{name.replace("/", "_")}"',
    }
    return await _send(request, gateway.storage, span, headers)


def locate(storage: Storage, prefix: str, name: str) -> Span:
    """The span of audio file `name` of the result under `prefix`, if metadata.json lists
    it. Reads only the metadata, the ZIP's directory and one local header."""
    archive = f"{prefix}/{ZIP_FILE}"
    try:
        with storage.open(f"{prefix}/{METADATA_FILE}") as stream:
            metadata = BundleMetadata.model_validate_json(stream.read())
        if name not in metadata.audio_files():
            raise ResultFileNotFoundError(f"the result has no audio file {name!r}")
        with storage.open_seekable(archive) as stream, zipfile.ZipFile(stream) as bundle:
            info = bundle.getinfo(name)
            stream.seek(info.header_offset)
            header = stream.read(_LOCAL_HEADER.size)
    except FileNotFoundError as error:
        raise ServiceUnavailableError(
            "the result file is not reachable from this gateway"
        ) from error
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    if signature != _LOCAL_SIGNATURE or info.compress_type != zipfile.ZIP_STORED:
        raise DiarizationError(f"{name} is not stored as plain bytes in {ZIP_FILE}")
    offset = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    return Span(archive, offset, info.file_size)


def byte_range(request: web.Request, size: int) -> tuple[int, int] | None:
    """(first, end) of a `Range: bytes=` request, end exclusive; None: send everything,
    also for a range that cannot be served (RFC 9110 lets a server ignore Range)."""
    try:
        wanted = request.http_range
    except ValueError:
        return None
    if wanted.start is None:
        return None
    first = wanted.start if wanted.start >= 0 else max(size + wanted.start, 0)
    end = size if wanted.stop is None else min(wanted.stop, size)
    return (first, end) if first < end else None


async def _send(
    request: web.Request, storage: Storage, span: Span, headers: dict[str, str]
) -> web.StreamResponse:
    wanted = byte_range(request, span.size)
    first, end = wanted or (0, span.size)
    response = web.StreamResponse(status=200 if wanted is None else 206, headers=headers)
    if wanted is not None:
        response.headers["Content-Range"] = f"bytes {first}-{end - 1}/{span.size}"
    response.content_length = end - first
    await response.prepare(request)
    if request.method != hdrs.METH_HEAD:
        await _copy(storage, span, first, end, response)
    return response


async def _copy(
    storage: Storage, span: Span, first: int, end: int, response: web.StreamResponse
) -> None:
    stream = await asyncio.to_thread(storage.open_seekable, span.key)
    try:
        await asyncio.to_thread(stream.seek, span.offset + first)
        remaining = end - first
        while remaining > 0:
            chunk = await asyncio.to_thread(stream.read, min(_CHUNK, remaining))
            if not chunk:  # the ZIP shrank underneath us: the client sees a short body
                return
            await response.write(chunk)
            remaining -= len(chunk)
    except ConnectionResetError:
        return  # media elements routinely drop a request once they have enough
    finally:
        stream.close()
