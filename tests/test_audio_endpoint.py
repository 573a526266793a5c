"""GET /audio/{task_id}?file=...: one speaker's track or one turn of a completed task,
served from inside result.zip, with byte ranges; nothing but the listed audio files.
A real gateway on loopback, a real valkey-server and a real worker process (the scripted
engine: the audio files are cut from the real recording all the same)."""

from __future__ import annotations

import asyncio
import shutil
import zipfile
from pathlib import Path

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestServer

from producer.app import create_app
from shared.processes import free_port
from shared.schemas.api import API_PREFIX
from shared.settings import Settings
from tests.conftest import make_settings
from tests.service_helpers import Cluster, task, wait_until

KEY_A, KEY_B = "key-alpha-0123456789", "key-bravo-9876543210"


def completed(client, settings, task_id: str) -> bool:
    record = task(client, settings, task_id)
    return record is not None and record.status == "completed"


@pytest.fixture(scope="module")
def deployment(redis_server, tmp_path_factory, sample_wav):
    """A worker, and one task it has completed (submitted straight to the jobs stream)."""
    root = tmp_path_factory.mktemp("audio-endpoint")
    settings = make_settings(redis_server, root / "storage")
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    cluster = Cluster(settings, root, client, TEST_ENGINE_SECONDS="0.1")
    cluster.start(1)
    inbox = Path(settings.storage_base_path) / "inbox"
    inbox.mkdir(parents=True)
    shutil.copy(sample_wav, inbox / "call.wav")
    task_id = cluster.submit("inbox/call.wav")
    try:
        wait_until(lambda: completed(client, settings, task_id), 60, "the job to complete")
        record = task(client, settings, task_id)
        archive = Path(settings.storage_base_path) / record.result_prefix / "result.zip"
        yield settings, client, task_id, archive
    finally:
        cluster.stop()
        client.close()


@pytest.fixture
async def http(deployment):
    settings = deployment[0]
    server = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    await server.start_server()
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session
    await server.close()


def member(archive: Path, name: str) -> bytes:
    with zipfile.ZipFile(archive) as bundle:
        return bundle.read(name)


async def test_every_listed_file_is_its_zip_member(http, deployment) -> None:
    _, _, task_id, archive = deployment
    async with http.get(f"{API_PREFIX}/metadata/{task_id}") as reply:
        speakers = (await reply.json())["speakers"]
    names = [s["track"] for s in speakers] + [g["file"] for s in speakers for g in s["segments"]]
    assert names == ["speaker_0.wav", "speaker_0/segment_001.wav"]
    for name in names:
        async with http.get(f"{API_PREFIX}/audio/{task_id}", params={"file": name}) as reply:
            body = await reply.read()
            assert (reply.status, reply.content_type) == (200, "audio/wav")
            assert reply.headers["Accept-Ranges"] == "bytes"
            assert reply.headers["Content-Disposition"] == (
                f'inline; filename="{name.replace("/", "_")}"'
            )
        assert body == member(archive, name) and body.startswith(b"RIFF")


@pytest.mark.parametrize(
    ("asked", "status", "part"),
    [
        ("bytes=0-99", 206, slice(0, 100)),
        ("bytes=1000-", 206, slice(1000, None)),
        ("bytes=-64", 206, slice(-64, None)),
        ("bytes=100-99999999999", 206, slice(100, None)),  # cut to the end of the file
        ("bytes=999999999-", 200, slice(None)),  # past the end: the whole file instead
        ("bytes=10-5", 200, slice(None)),
        ("bytes=0-1,5-6", 200, slice(None)),  # several ranges: not served as such
        ("pages=1", 200, slice(None)),
    ],
)
async def test_byte_ranges(http, deployment, asked, status, part) -> None:
    _, _, task_id, archive = deployment
    whole = member(archive, "speaker_0.wav")
    url = f"{API_PREFIX}/audio/{task_id}?file=speaker_0.wav"
    async with http.get(url, headers={"Range": asked}) as reply:
        assert reply.status == status
        assert await reply.read() == whole[part]
    if status == 206:
        first = part.start if part.start >= 0 else len(whole) + part.start
        expected = f"bytes {first}-{len(whole[part]) + first - 1}/{len(whole)}"
        assert reply.headers["Content-Range"] == expected


async def test_head_gives_the_size_only(http, deployment) -> None:
    _, _, task_id, archive = deployment
    url = f"{API_PREFIX}/audio/{task_id}?file=speaker_0/segment_001.wav"
    async with http.head(url) as reply:
        assert reply.status == 200 and await reply.read() == b""
        assert int(reply.headers["Content-Length"]) == len(
            member(archive, "speaker_0/segment_001.wav")
        )


@pytest.mark.parametrize(
    "name",
    [
        "result.json", "metadata.json", "diarization.rttm", "timeline.png", "result.zip",
        "speaker_9.wav", "speaker_0/segment_999.wav", "speaker_0/../speaker_0.wav",
        "../../../uploads/x.wav", "/etc/passwd", "speaker_0", "SPEAKER_0.WAV",
    ],
)  # fmt: skip
async def test_nothing_else_can_be_read(http, deployment, name) -> None:
    _, _, task_id, _ = deployment
    async with http.get(f"{API_PREFIX}/audio/{task_id}", params={"file": name}) as reply:
        assert (reply.status, (await reply.json())["error_code"]) == (404, "FILE_NOT_FOUND")


async def test_missing_file_unknown_or_unfinished_task(
    http, deployment, redis_server, tmp_path, sample_wav
) -> None:
    _, _, task_id, _ = deployment
    async with http.get(f"{API_PREFIX}/audio/{task_id}") as reply:
        assert (reply.status, (await reply.json())["error_code"]) == (400, "INVALID_PARAMETERS")
    async with http.get(f"{API_PREFIX}/audio/nope?file=speaker_0.wav") as reply:
        assert (reply.status, (await reply.json())["error_code"]) == (404, "TASK_NOT_FOUND")
    idle = make_settings(redis_server, tmp_path / "storage")  # a deployment with no worker
    server = TestServer(create_app(idle), host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as other:
            data = aiohttp.FormData()
            data.add_field("audio_file", sample_wav.read_bytes(), filename="a.wav")
            async with other.post(f"{API_PREFIX}/upload", data=data) as reply:
                queued = (await reply.json())["task_id"]
            async with other.get(f"{API_PREFIX}/audio/{queued}?file=speaker_0.wav") as reply:
                assert (reply.status, (await reply.json())["error_code"]) == (
                    409, "TASK_NOT_READY",
                )  # fmt: skip
    finally:
        await server.close()


async def test_audio_honours_api_keys(deployment, sample_wav) -> None:
    settings, client, _, _ = deployment
    # the same queue and storage, with keys on
    keyed = Settings(_env_file=None, **{**settings.model_dump(), "api_keys": [KEY_A, KEY_B]})
    server = TestServer(create_app(keyed), host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as http:
            data = aiohttp.FormData()
            data.add_field("audio_file", sample_wav.read_bytes(), filename="mine.wav")
            async with http.post(
                f"{API_PREFIX}/upload", data=data, headers={"X-API-Key": KEY_A}
            ) as reply:
                task_id = (await reply.json())["task_id"]
            await asyncio.to_thread(
                wait_until, lambda: completed(client, settings, task_id), 60, "the upload's job"
            )
            url = f"{API_PREFIX}/audio/{task_id}?file=speaker_0.wav"
            async with http.get(url) as reply:
                assert reply.status == 401
            async with http.get(url, headers={"X-API-Key": KEY_B}) as reply:
                assert (reply.status, (await reply.json())["error_code"]) == (404, "TASK_NOT_FOUND")
            # an <audio> element sends no headers: the page's cookie carries the key
            cookie = {"Cookie": f"diarization_api_key={KEY_A}"}
            async with http.get(url, headers=cookie) as reply:
                assert reply.status == 200 and len(await reply.read()) > 1000
    finally:
        await server.close()
