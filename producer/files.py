"""Sending a stored object: zero-copy from the local disk, streamed from a bucket."""

from __future__ import annotations

import asyncio

from aiohttp import web

from shared.errors import ServiceUnavailableError
from shared.storage import Storage

_CHUNK = 1 << 16


async def send_object(
    request: web.Request, storage: Storage, key: str, headers: dict[str, str]
) -> web.StreamResponse:
    path = await asyncio.to_thread(storage.local_file, key)
    if path is not None:
        return web.FileResponse(path, headers=headers)
    try:
        stream = await asyncio.to_thread(storage.open, key)
    except FileNotFoundError as error:
        raise ServiceUnavailableError(
            "the result file is not reachable from this gateway"
        ) from error
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    try:
        while chunk := await asyncio.to_thread(stream.read, _CHUNK):
            await response.write(chunk)
    finally:
        await asyncio.to_thread(stream.close)
    await response.write_eof()
    return response
