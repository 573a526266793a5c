"""Redis faults: a restart under load and a wiped database, with real processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestServer

from producer.app import create_app
from shared.embedded_redis import EmbeddedRedis
from shared.processes import free_port
from shared.schemas.api import API_PREFIX
from tests.conftest import make_settings
from tests.service_helpers import Cluster, task, wait_until


@pytest.fixture
def private_redis(tmp_path):
    """A server of this test's own, so it can be killed and restarted."""
    server = EmbeddedRedis(tmp_path / "valkey", free_port())
    server.start()
    yield server
    server.stop()


def tone(settings) -> None:
    import numpy as np
    import soundfile as sf

    inbox = settings.storage_base_path / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    sf.write(
        str(inbox / "tone.wav"), 0.1 * np.sin(np.arange(32000) / 5.0).astype(np.float32), 16000
    )


async def submit_until(session, path, accepted: list[str], refused: list[int], stop: asyncio.Event):
    while not stop.is_set():
        data = aiohttp.FormData()
        data.add_field("audio_file", path.read_bytes(), filename="tone.wav")
        try:
            async with session.post(f"{API_PREFIX}/upload", data=data) as reply:
                if reply.status == 202:
                    accepted.append((await reply.json())["task_id"])
                else:
                    assert reply.status == 503, await reply.text()
                    assert reply.headers["Retry-After"]
                    refused.append(reply.status)
        except aiohttp.ClientError:
            refused.append(0)
        await asyncio.sleep(0.2)


async def test_redis_restart_under_load_loses_nothing(private_redis, tmp_path) -> None:
    settings = make_settings(
        private_redis, tmp_path / "storage", lease_seconds=2.0, reclaim_interval_seconds=0.5,
        redis_socket_timeout=2.0, max_queue_length=0, max_active_tasks_per_client=0,
        max_uploads_per_hour=0,
    )  # fmt: skip
    tone(settings)
    client = redis.Redis(host=private_redis.host, port=private_redis.port)
    cluster = Cluster(settings, tmp_path, client, TEST_ENGINE_SECONDS="1")
    cluster.start(2)
    server = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    await server.start_server()
    accepted: list[str] = []
    refused: list[int] = []
    stop = asyncio.Event()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
            load = asyncio.create_task(
                submit_until(
                    session,
                    settings.storage_base_path / "inbox" / "tone.wav",
                    accepted,
                    refused,
                    stop,
                )
            )
            await asyncio.sleep(3)
            os.kill(private_redis.process.pid, signal.SIGKILL)  # a crash, not a clean stop
            private_redis.process.wait()
            await asyncio.sleep(2)
            private_redis.start()
            await asyncio.sleep(3)
            stop.set()
            await load

        def all_ended() -> bool:
            return all(
                (r := task(client, settings, t)) is not None and r.status.terminal for t in accepted
            )

        await asyncio.to_thread(wait_until, all_ended, 90, "every accepted task to end")
    finally:
        await server.close()
        cluster.stop()
    assert len(accepted) >= 10 and refused, (len(accepted), refused)
    for task_id in accepted:
        assert cluster.terminal_statuses(task_id) == ["completed"], (task_id, cluster.logs())
    assert cluster.pending() == 0
    uploads = {p.stem for p in (settings.storage_base_path / "uploads").iterdir()}
    assert uploads == set(accepted)  # refused uploads left no file behind


def test_flushall_recreates_the_group_without_a_hot_loop(
    redis_server, redis_client, tmp_path
) -> None:
    settings = make_settings(redis_server, tmp_path / "storage")
    tone(settings)
    cluster = Cluster(settings, tmp_path, redis_client, TEST_ENGINE_SECONDS="0.5")
    (worker,) = cluster.start(1)
    first = cluster.submit("inbox/tone.wav")
    wait_until(lambda: cluster.terminal_statuses(first) == ["completed"], 30, "the first job")
    redis_client.flushall()
    time.sleep(3)
    log = worker.output()
    assert len(re.findall(r"consumer group missing", log)) <= 3, log
    assert len(log.splitlines()) < 30, log  # no flood of errors while the group was gone
    second = cluster.submit("inbox/tone.wav")
    wait_until(
        lambda: cluster.terminal_statuses(second) == ["completed"], 30, "a job after FLUSHALL"
    )
    cluster.stop()
