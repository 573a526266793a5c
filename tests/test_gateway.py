"""The HTTP gateway, served for real on loopback, against a real valkey-server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from producer.app import create_app
from producer.page import STATIC
from shared.keys import RedisKeys
from shared.processes import free_port
from shared.schemas.api import API_PREFIX
from tests.conftest import make_settings
from tests.service_helpers import ROOT


async def serve(settings):
    server = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    await server.start_server()
    return server


@pytest.fixture
async def http(settings):
    server = await serve(settings)
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session
    await server.close()


def form(path: Path, name: str | None = None, **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("audio_file", path.read_bytes(), filename=name or path.name)
    for key, value in fields.items():
        data.add_field(key, value)
    return data


def leftover_files(settings) -> list[Path]:
    root = Path(settings.storage_base_path)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_upload_queues_a_task(http, settings, sample_wav, redis_client) -> None:
    async with http.post(f"{API_PREFIX}/upload", data=form(sample_wav, num_speakers="2")) as reply:
        assert reply.status == 202
        body = await reply.json()
    assert body["status"] == "queued"
    task_id = body["task_id"]
    assert len(task_id) == 32 and int(task_id, 16) >= 0  # 128 random bits
    keys = RedisKeys(settings.redis_key_prefix)
    ((_, fields),) = redis_client.xrange(keys.jobs)
    assert fields[b"task_id"].decode() == task_id
    assert fields[b"num_speakers"] == b"2"
    assert fields[b"audio"].decode() == f"uploads/{task_id}.wav"  # the name is not the user's
    assert (
        Path(settings.storage_base_path) / "uploads" / f"{task_id}.wav"
    ).read_bytes() == sample_wav.read_bytes()
    async with http.get(f"{API_PREFIX}/status/{task_id}") as reply:
        status = await reply.json()
    assert reply.status == 200
    assert (status["status"], status["progress"], status["filename"]) == (
        "queued",
        0.0,
        "sample.wav",
    )
    assert status["download_url"] is None
    events = redis_client.xrange(keys.task_events(task_id))
    assert [e[1][b"status"] for e in events] == [b"queued"]


@pytest.mark.parametrize(
    ("name", "content", "status", "code"),
    [
        ("notes.txt", b"hello", 415, "UNSUPPORTED_FORMAT"),
        ("fake.wav", b"not audio at all" * 100, 415, "INVALID_AUDIO_FORMAT"),
        ("empty.wav", b"", 400, "EMPTY_FILE"),
    ],
)
async def test_bad_files_are_refused_and_leave_nothing(
    http, settings, redis_client, tmp_path, name, content, status, code
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    async with http.post(f"{API_PREFIX}/upload", data=form(path)) as reply:
        body = await reply.json()
    assert (reply.status, body["error_code"]) == (status, code)
    assert body["message"]
    assert leftover_files(settings) == []
    assert redis_client.xlen(RedisKeys(settings.redis_key_prefix).jobs) == 0


async def test_oversized_upload_is_cut_off(redis_server, tmp_path, redis_client) -> None:
    settings = make_settings(redis_server, tmp_path / "storage", max_file_size_mb=1)
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (3 * 1024 * 1024))
    server = await serve(settings)
    try:
        async with aiohttp.ClientSession() as session:
            url = server.make_url(f"{API_PREFIX}/upload")
            async with session.post(url, data=form(big)) as reply:
                body = await reply.json()
        assert (reply.status, body["error_code"]) == (413, "FILE_TOO_LARGE")
    finally:
        await server.close()
    assert leftover_files(settings) == []


async def test_form_problems(http, sample_wav) -> None:
    async with http.post(f"{API_PREFIX}/upload", data=b"raw bytes") as reply:
        assert (reply.status, (await reply.json())["error_code"]) == (400, "INVALID_REQUEST")
    data = aiohttp.FormData()
    data.add_field("num_speakers", "2")
    data.add_field("other", b"x", filename="x.wav")
    async with http.post(f"{API_PREFIX}/upload", data=data) as reply:
        assert (reply.status, (await reply.json())["error_code"]) == (400, "INVALID_REQUEST")
    bad = form(sample_wav, min_speakers="3", max_speakers="2")
    async with http.post(f"{API_PREFIX}/upload", data=bad) as reply:
        body = await reply.json()
        assert (reply.status, body["error_code"]) == (400, "INVALID_PARAMETERS")
        assert "min_speakers" in body["message"]


async def test_unknown_and_unfinished_tasks(http, sample_wav) -> None:
    async with http.get(f"{API_PREFIX}/status/nope") as reply:
        assert (reply.status, (await reply.json())["error_code"]) == (404, "TASK_NOT_FOUND")
    async with http.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
        task_id = (await reply.json())["task_id"]
    for path in (f"download/{task_id}", f"metadata/{task_id}"):
        async with http.get(f"{API_PREFIX}/{path}") as reply:
            assert (reply.status, (await reply.json())["error_code"]) == (409, "TASK_NOT_READY")
    async with http.get(f"{API_PREFIX}/nope/route") as reply:
        assert reply.status == 404 and (await reply.json())["error_code"] == "NOT_FOUND"


async def test_delete_cancels_a_queued_task(http, settings, sample_wav, redis_client) -> None:
    async with http.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
        task_id = (await reply.json())["task_id"]
    async with http.delete(f"{API_PREFIX}/{task_id}") as reply:
        assert (reply.status, (await reply.json())["status"]) == (200, "cancelled")
    async with http.get(f"{API_PREFIX}/status/{task_id}") as reply:
        assert (await reply.json())["status"] == "cancelled"
    assert leftover_files(settings) == []
    events = redis_client.xrange(RedisKeys(settings.redis_key_prefix).task_events(task_id))
    assert [e[1][b"status"] for e in events] == [b"queued", b"cancelled"]
    async with http.delete(f"{API_PREFIX}/{task_id}") as reply:  # now ended: delete it
        assert (reply.status, (await reply.json())["status"]) == (200, "deleted")
    async with http.get(f"{API_PREFIX}/status/{task_id}") as reply:
        assert reply.status == 404


async def test_idempotency_key_returns_the_first_task(
    http, settings, sample_wav, redis_client
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    async with http.post(f"{API_PREFIX}/upload", data=form(sample_wav), headers=headers) as reply:
        first = await reply.json()
        assert reply.status == 202
    async with http.post(f"{API_PREFIX}/upload", data=form(sample_wav), headers=headers) as reply:
        again = await reply.json()
        assert reply.status == 200
    assert again["task_id"] == first["task_id"]
    assert redis_client.xlen(RedisKeys(settings.redis_key_prefix).jobs) == 1
    assert len(list((Path(settings.storage_base_path) / "uploads").iterdir())) == 1


async def test_queue_limit_answers_429(redis_server, tmp_path, sample_wav) -> None:
    settings = make_settings(redis_server, tmp_path / "storage", max_queue_length=1)
    server = await serve(settings)
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
            async with session.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
                assert reply.status == 202
            async with session.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
                assert (reply.status, (await reply.json())["error_code"]) == (429, "QUEUE_FULL")
                assert reply.headers["Retry-After"]
    finally:
        await server.close()


async def test_redis_down_answers_503(tmp_path, sample_wav) -> None:
    from shared.settings import Settings

    settings = Settings(
        _env_file=None, redis_host="127.0.0.1", redis_port=free_port(),
        storage_base_path=tmp_path / "storage", redis_socket_timeout=1.0,
    )  # fmt: skip
    server = await serve(settings)
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
            async with session.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
                body = await reply.json()
                assert (reply.status, body["error_code"]) == (503, "SERVICE_UNAVAILABLE")
                assert reply.headers["Retry-After"]
            async with session.get("/ready") as reply:
                assert reply.status == 503 and (await reply.json())["redis"] is False
            async with session.get("/health") as reply:
                assert reply.status == 200
    finally:
        await server.close()


async def test_health_ready_docs_and_metrics(http, sample_wav) -> None:
    async with http.get("/health") as reply:
        assert (reply.status, (await reply.json())["status"]) == (200, "ok")
    async with http.get("/ready") as reply:  # no worker yet
        body = await reply.json()
        assert (reply.status, body["ready"], body["redis"], body["workers_alive"]) == (
            503,
            False,
            True,
            0,
        )
    async with http.get("/openapi.json") as reply:
        spec = await reply.json()
    assert f"{API_PREFIX}/upload" in spec["paths"]
    assert "TaskStatusResponse" in spec["components"]["schemas"]
    async with http.get("/docs") as reply:
        assert "swagger-ui-bundle.js" in await reply.text()
    async with http.get("/docs/static/swagger-ui-bundle.js") as reply:
        assert reply.status == 200 and len(await reply.read()) > 100_000
    async with http.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
        assert reply.status == 202
    async with http.get("/metrics") as reply:
        text = await reply.text()
    assert "diarization_jobs_submitted_total 1.0" in text
    assert "diarization_queue_waiting 1.0" in text
    labels = 'method="POST",route="/api/v1/diarize/upload",status="202"'
    assert f"diarization_http_requests_total{{{labels}}} 1.0" in text


async def test_the_page_is_served_whole_by_the_gateway(http) -> None:
    async with http.get("/") as reply:
        page = await reply.text()
        assert (reply.status, reply.content_type) == (200, "text/html")
        assert "default-src 'self'" in reply.headers["Content-Security-Policy"]
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/ui/app.js" in links and all(link.startswith(("/", "#")) for link in links)
    for name in sorted(p.name for p in STATIC.iterdir()):
        async with http.get(f"/ui/{name}") as reply:
            text = await reply.text()
            assert reply.status == 200, name
        if name.endswith(".js"):  # modules import only their siblings
            assert reply.content_type.endswith("javascript")
            imports = re.findall(r'from "([^"]+)"', text)
            assert all(i.startswith("./") and (STATIC / i[2:]).is_file() for i in imports)
        assert "url(" not in text and "@import" not in text  # no fonts or images from afar


async def test_openapi_describes_live_events_and_audio(http) -> None:
    async with http.get("/openapi.json") as reply:
        paths = (await reply.json())["paths"]
    events = paths[f"{API_PREFIX}/events/{{task_id}}"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]
    assert "Last-Event-ID" in [p["name"] for p in events["parameters"]]
    audio = paths[f"{API_PREFIX}/audio/{{task_id}}"]["get"]
    assert set(audio["responses"]) >= {"200", "206", "404", "409"}


async def test_a_stopped_gateway_leaves_no_redis_connection(
    settings, redis_client, sample_wav
) -> None:
    before = len(redis_client.client_list())
    server = await serve(settings)
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        async with session.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
            task_id = (await reply.json())["task_id"]
        async with session.get(f"{API_PREFIX}/events/{task_id}") as reply:
            await reply.content.readline()  # the live-events hub has its connection too
        assert len(redis_client.client_list()) > before
    await server.close()
    assert len(redis_client.client_list()) == before


def test_gateway_never_imports_the_engine() -> None:
    code = (
        "import sys, producer.app, producer.routes, shared.cli.service_commands;"
        "heavy = [m for m in ('torch', 'pyannote', 'lightning', 'matplotlib') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
