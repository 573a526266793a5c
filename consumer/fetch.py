"""A job's audio as a local file: a key under the storage root, or an http(s) URL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit

import aiohttp

from shared.errors import AudioDownloadError, FileTooLargeError, InvalidJobError
from shared.storage import LocalStorage

_CHUNK = 1 << 16


@dataclass(frozen=True)
class LocalAudio:
    path: Path
    name: str  # what the result is named after
    temporary: bool  # downloaded for this job: delete when done


def is_url(audio: str) -> bool:
    return audio.startswith(("http://", "https://"))


async def local_audio(
    audio: str,
    filename: str | None,
    storage: LocalStorage,
    session: aiohttp.ClientSession,
    max_bytes: int,
) -> LocalAudio:
    if is_url(audio):
        name = filename or PurePosixPath(urlsplit(audio).path).name or "audio"
        path = await _download(
            audio, storage.scratch_path(PurePosixPath(name).suffix), session, max_bytes
        )
        return LocalAudio(path, name, temporary=True)
    path = storage.path(audio)
    if not await asyncio.to_thread(path.is_file):
        raise InvalidJobError(f"audio not found in storage: {audio}")
    return LocalAudio(path, filename or path.name, temporary=False)


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
        await asyncio.to_thread(_discard, stream, path)
        raise AudioDownloadError(f"downloading {url} failed: {error}") from error
    except BaseException:
        await asyncio.to_thread(_discard, stream, path)
        raise
    await asyncio.to_thread(stream.close)
    return path


def _discard(stream: BinaryIO, path: Path) -> None:
    stream.close()
    path.unlink(missing_ok=True)
