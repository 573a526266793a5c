"""End to end with the real engine: gateway, real worker processes, real valkey-server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestServer

from consumer.callbacks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from producer.app import create_app
from shared.embedded_redis import server_binary
from shared.keys import RedisKeys
from shared.processes import free_port
from shared.schemas.api import API_PREFIX
from tests.conftest import make_settings
from tests.service_helpers import start_worker, task, wait_for_workers, wait_until

CALLBACK_SECRET = "s3cret"


@pytest.fixture(scope="module")
def deployment(redis_server, tmp_path_factory):
    """One deployment with two real workers (bundled engine), shared by this module."""
    root = tmp_path_factory.mktemp("deployment")
    settings = make_settings(
        redis_server, root / "storage", callback_secret=CALLBACK_SECRET,
        callback_allowed_hosts=["127.0.0.0/8"],
    )  # fmt: skip
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    workers = [start_worker(settings, root / f"worker{i}.log") for i in range(2)]
    try:
        wait_for_workers(client, settings, 2)
        yield settings, client, workers
    finally:
        for worker in workers:
            assert worker.stop() == 0, worker.output()[-3000:]
        client.close()


@pytest.fixture
async def gateway(deployment):
    settings, _, _ = deployment
    server = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    await server.start_server()
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session
    await server.close()


def cli(settings, *args: str) -> str:
    """redis-cli (valkey's), no project code involved."""
    binary = Path(server_binary()).with_name("valkey-cli")
    command = [str(binary), "-h", settings.redis_host, "-p", str(settings.redis_port), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def statuses(client, settings, task_id) -> list[str]:
    events = client.xrange(RedisKeys(settings.redis_key_prefix).task_events(task_id))
    return [fields[b"status"].decode() for _, fields in events]


async def upload(gateway, path: Path, **fields: str) -> str:
    data = aiohttp.FormData()
    data.add_field("audio_file", await asyncio.to_thread(path.read_bytes), filename=path.name)
    for key, value in fields.items():
        data.add_field(key, value)
    async with gateway.post(f"{API_PREFIX}/upload", data=data) as reply:
        assert reply.status == 202, await reply.text()
        return (await reply.json())["task_id"]


async def wait_done(gateway, task_id: str, seconds: float = 300) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with gateway.get(f"{API_PREFIX}/status/{task_id}") as reply:
            status = await reply.json()
        if reply.status == 200 and status["status"] in ("completed", "failed", "cancelled"):
            return status
        await asyncio.sleep(0.5)
    raise AssertionError(f"task {task_id} did not finish: {status}")


async def test_two_workers_split_a_batch_each_job_once(gateway, deployment, sample_wav) -> None:
    settings, client, _ = deployment
    task_ids = [await upload(gateway, sample_wav) for _ in range(4)]
    finished = [await wait_done(gateway, task_id) for task_id in task_ids]
    assert [s["status"] for s in finished] == ["completed"] * 4
    assert all(s["metadata"]["num_speakers"] == 2 for s in finished)
    # result files (per-speaker WAVs, ZIP, timeline) take time of their own, reported apart
    assert all(0 < s["metadata"]["store_time"] < 30 for s in finished)
    records = [task(client, settings, task_id) for task_id in task_ids]
    assert len({record.worker for record in records}) == 2  # both workers took jobs
    for task_id, record in zip(task_ids, records, strict=True):
        assert record.attempt == 1  # delivered once
        seen = statuses(client, settings, task_id)
        assert seen.count("completed") == 1 and seen[0] == "queued"
        assert [s for s in seen if s != "processing"] == ["queued", "completed"]
    keys = RedisKeys(settings.redis_key_prefix)
    assert client.xpending(keys.jobs, keys.group)["pending"] == 0
    async with gateway.get(f"{API_PREFIX}/download/{task_ids[0]}") as reply:
        assert reply.status == 200 and reply.content_type == "application/zip"
        assert len(await reply.read()) > 100_000
    async with gateway.get(f"{API_PREFIX}/download/{task_ids[0]}?format=rttm") as reply:
        assert (await reply.text()).startswith("SPEAKER sample 1 ")
    async with gateway.get(f"{API_PREFIX}/metadata/{task_ids[0]}") as reply:
        assert len((await reply.json())["speakers"]) == 2


def test_direct_xadd_with_redis_cli(deployment, sample_wav) -> None:
    settings, _, _ = deployment
    keys = RedisKeys(settings.redis_key_prefix)
    audio = Path(settings.storage_base_path) / "inbox" / "call.wav"
    audio.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample_wav, audio)
    entry = cli(settings, "XADD", keys.jobs, "*", "audio", "inbox/call.wav", "max_speakers", "3")
    task_id = entry  # no task_id field: the entry id names the task
    wait_until(
        lambda: cli(settings, "HGET", keys.task(task_id), "status") in ("completed", "failed"),
        300, "the XADDed job to finish",
    )  # fmt: skip
    assert cli(settings, "HGET", keys.task(task_id), "status") == "completed"
    assert '"num_speakers":2' in cli(settings, "HGET", keys.task(task_id), "summary")
    events = cli(settings, "XRANGE", keys.events, "-", "+")
    assert task_id in events and "completed" in events


async def test_audio_url_and_signed_callback(gateway, deployment, sample_wav) -> None:
    settings, client, _ = deployment
    received: list[tuple[dict, dict]] = []

    async def serve_audio(_: web.Request) -> web.FileResponse:
        return web.FileResponse(sample_wav)

    async def callback(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.json()))
        body = await request.read()
        expected = hmac.new(
            CALLBACK_SECRET.encode(), f"{request.headers[TIMESTAMP_HEADER]}.".encode() + body,
            hashlib.sha256,
        ).hexdigest()  # fmt: skip
        assert request.headers[SIGNATURE_HEADER] == f"sha256={expected}"
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/audio/meeting.wav", serve_audio)
    app.router.add_post("/hook", callback)
    peer = TestServer(app, host="127.0.0.1", port=free_port())
    await peer.start_server()
    try:
        keys = RedisKeys(settings.redis_key_prefix)
        client.xadd(keys.jobs, {
            "task_id": "url-job-1", "audio": str(peer.make_url("/audio/meeting.wav")),
            "callback_url": str(peer.make_url("/hook")),
        })  # fmt: skip
        status = await wait_done(gateway, "url-job-1")
        assert status["status"] == "completed"
        assert status["filename"] is None and status["metadata"]["num_speakers"] == 2
        wait_until(lambda: received, 30, "the callback")
        _, payload = received[0]
        assert payload["task_id"] == "url-job-1" and payload["status"] == "completed"
        assert payload["summary"]["num_speakers"] == 2
    finally:
        await peer.close()


def test_metrics_move_after_jobs(deployment) -> None:
    settings, client, _ = deployment
    keys = RedisKeys(settings.redis_key_prefix)
    totals = 0.0
    for worker_id in client.zrange(keys.workers, 0, -1):
        port = int(client.hget(keys.worker(worker_id.decode()), "metrics_port"))
        text = subprocess.run(
            ["curl", "-s", f"http://127.0.0.1:{port}/metrics"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        line = next(
            row for row in text.splitlines() if row.startswith("diarization_jobs_completed_total")
        )
        totals += float(line.split()[-1])
        assert "diarization_audio_seconds_processed_total" in text
    assert totals >= 1
