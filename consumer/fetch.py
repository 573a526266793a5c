"""A job's audio as a local file, for as long as the job needs it: an object of the store
(copied locally if the store is remote) or an http(s) URL (downloaded)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import aiohttp

from shared.errors import AudioDownloadError, FileTooLargeError
from shared.storage import Storage

_CHUNK = 1 << 16


@dataclass(frozen=True)
class LocalAudio:
    path: Path
    name: str  # what the result is named after


def is_url(audio: str) -> bool:
    return audio.startswith(("http://", "https://"))


@asynccontextmanager
async def local_audio(
    audio: str,
    filename: str | None,
    storage: Storage,
    session: aiohttp.ClientSession,
    max_bytes: int,
) -> AsyncIterator[LocalAudio]:
    if is_url(audio):
        name = filename or PurePosixPath(urlsplit(audio).path).name or "audio"
        path = storage.scratch_path(PurePosixPath(name).suffix)
        try:
            yield LocalAudio(await _download(audio, path, session, max_bytes), name)
        finally:
            await asyncio.to_thread(storage.discard_scratch, path)
        return
    with ExitStack() as stack:
        path = await asyncio.to_thread(stack.enter_context, storage.local_copy(audio))
        yield LocalAudio(path, filename or PurePosixPath(audio).name)


async def _download(url: str, path: Path, session: aiohttp.ClientSession, max_bytes: int) -> Path:
    size = 0
    stream = await asyncio.to_thread(path.open, "wb")
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise AudioDownloadError(f"downloading {url} answered HTTP {response.status}")
            async for chunk in response.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLargeError(f"{url} is larger than {max_bytes} bytes")
                await asyncio.to_thread(stream.write, chunk)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise AudioDownloadError(f"downloading {url} failed: {error}") from error
    finally:  # the caller deletes the file whatever happens
        await asyncio.to_thread(stream.close)
    return path
